// Something that must run on one instance only (the WeChat puppet: one login per account) runs on the
// instance holding a lock; the others retry on the injectable clock and take over when the holder
// goes away. The lock is a port: PostgreSQL's session advisory lock in production
// (store/advisory-lock.ts), a hand-written fake in unit tests. On SQLite there is one instance and no lock.
import type { Clock, Logger } from '../app/ports.ts';

export interface LeaderLock {
  /**
   * Takes the lock, or, when already held, checks that it still is (its session is alive). True: this
   * instance holds it now. Never throws: an unreachable database means "not held".
   */
  tryAcquire(): Promise<boolean>;
  /** The instance id holding the lock now, as the database sees it; null when nobody does or it cannot tell. */
  holder(): Promise<string | null>;
  /** Called when the lock is lost without release (the session's connection closed or broke). */
  onLost(listener: () => void): void;
  /** Lets go (closes the session). */
  release(): Promise<void>;
}

export interface LeaderOptions {
  /** What runs only here, e.g. "wechat" (for the log). */
  name: string;
  lock: LeaderLock;
  clock: Clock;
  logger: Logger;
  /** This instance, as shown in /healthz (hostname:pid unless INSTANCE_ID says otherwise). */
  instanceId: string;
  /** How often a follower tries to take the lock and the leader checks it still holds it. */
  retryMs: number;
  /** Becomes the one instance: start the thing. */
  lead(): Promise<void>;
  /** No longer the one: stop the thing at once. */
  follow(): Promise<void>;
}

export interface LeaderHealth {
  instance: string;
  /** Whether the thing runs on this instance. */
  runsHere: boolean;
  /** The instance holding the lock, as last seen (null: nobody, or not known yet). */
  holder: string | null;
}

export class Leader {
  private leading = false;
  private holderSeen: string | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Lead/follow transitions, one at a time and in order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly o: LeaderOptions) {
    o.lock.onLost(() => {
      if (!this.leading) return;
      this.o.logger.warn({ instance: o.instanceId }, `${o.name}: lost the instance lock (database session closed); stopping here`);
      this.holderSeen = null;
      void this.become(false);
    });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  health(): LeaderHealth {
    return { instance: this.o.instanceId, runsHere: this.leading, holder: this.leading ? this.o.instanceId : this.holderSeen };
  }

  /** One round: take or confirm the lock, start or stop accordingly, note who holds it. */
  async tick(): Promise<void> {
    const held = await this.o.lock.tryAcquire();
    if (!this.running && this.loop) {
      // stop() began while we waited: do not start anything now.
      if (held) await this.o.lock.release();
      return;
    }
    if (held !== this.leading) await this.become(held);
    this.holderSeen = held ? this.o.instanceId : await this.o.lock.holder().catch(() => null);
  }

  private become(lead: boolean): Promise<void> {
    const step = this.chain.then(async () => {
      if (this.leading === lead) return;
      this.leading = lead;
      if (lead) {
        this.o.logger.info({ instance: this.o.instanceId }, `${this.o.name}: this instance holds the lock and runs it`);
        await this.o.lead();
      } else {
        await this.o.follow();
      }
    });
    this.chain = step.catch((err: unknown) =>
      this.o.logger.error({ err: err instanceof Error ? err.message : String(err) }, `${this.o.name}: start/stop failed`),
    );
    return this.chain;
  }

  /** Tries now, then every retryMs until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.tick().catch((err: unknown) =>
          this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `${this.o.name}: lock round failed`),
        );
        if (!this.running) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          void this.o.clock.sleep(this.o.retryMs).then(resolve);
        });
        this.wake = null;
      }
    })();
  }

  /** Stops the loop, stops the thing if it runs here, and lets go of the lock so another takes over. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.become(false);
    await this.o.lock.release();
  }
}
