import type { Clock } from '../../src/domain/time.ts';

/**
 * Virtual time. `sleep` resolves only when a test moves the clock past its deadline with `advance`,
 * so rate limits, backoff and expiry run in milliseconds of real time.
 */
export class FakeClock implements Clock {
  private t: number;
  private sleepers: Array<{ at: number; resolve: () => void; seq: number }> = [];
  private seq = 0;

  constructor(start = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.t + Math.max(0, ms), resolve, seq: this.seq++ });
    });
  }

  /** Moves time forward, waking sleepers in deadline order and letting each one's continuation run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.sleepers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.sleepers[0];
      if (!next || next.at > end) break;
      this.sleepers.shift();
      this.t = Math.max(this.t, next.at);
      next.resolve();
      await flush();
    }
    this.t = end;
    await flush();
  }

  /** Jumps without waking anything (for "a month later" setups before any sleeper exists). */
  set(ms: number): void {
    this.t = ms;
  }

  get pendingSleepers(): number {
    return this.sleepers.length;
  }
}

/** Let queued promise continuations run (several rounds, since chains hop through microtasks). */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
