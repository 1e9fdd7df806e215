// One shared pacing gate for every outbound call to a chat platform. Sliding-window limits per
// platform (overall), per chat and per group, an optional minimum gap with jitter (WeChat), a pause
// when the platform answers 429 retry_after, and priority lanes (LANES): a waiting invite goes before a
// waiting removal, a removal before a notice, a notice before a reminder, a reminder before a broadcast.
// A call holds no place until it is granted, so an invite that arrives while a removal batch waits is
// served first. Time comes from the injectable Clock, so tests run it in virtual time.
//
// A call made by a job's handler (jobs/job-context.ts) that is still waiting when the worker asks the job
// to yield its slot leaves the queue and its acquire rejects with YieldedError; a granted call marks the
// job as having made a call, and such a job is never asked to yield.
//
// Only messages count toward Telegram's message windows (issue 14 part 2): a call that posts nothing
// (`kind: 'call'`: invite links, join-request answers, bans, getChatMember) goes through a window of its
// own (`callsPerSecond`) when the platform has one. A 429 pause stops both kinds. With `spaceGrants` the
// grants of a per-second window are at least 1000/limit ms apart instead of a second's worth at once, so
// network jitter cannot carry a burst into the platform's next second on top of that second's calls.
import type { Clock } from '../domain/time.ts';
import { LANES, type Lane } from '../app/ports.ts';
import { currentJobContext, YieldedError } from './job-context.ts';

export interface PlatformLimits {
  /** Max calls per second across the platform (with `callsPerSecond` set: max messages per second). */
  perSecond?: number;
  /**
   * Max calls per second that post no message (`kind: 'call'`), in a window of their own that counts in no
   * message window. Absent: such calls count toward `perSecond` like any other.
   */
  callsPerSecond?: number;
  /** Space the grants of each per-second window at least ceil(1000 / limit) ms apart. */
  spaceGrants?: boolean;
  /** Max calls per second to one private chat. */
  perChatPerSecond?: number;
  /** Max calls per minute to one group. */
  perGroupPerMinute?: number;
  /** Minimum gap between two calls (WeChat: ≥ 1 s), plus up to `jitterMs` random extra. */
  minIntervalMs?: number;
  jitterMs?: number;
  /** Max calls per rolling 24 h (WeChat daily cap); calls past it wait. */
  perDay?: number;
  /** Added to every window, so network timing can never make us look faster than the limit. */
  marginMs?: number;
}

export interface AcquireRequest {
  platform: string;
  /** The chat the call addresses (private chat or group), if any. */
  chatId?: string;
  isGroup?: boolean;
  lane: Lane;
  /** `message` (default) posts into a chat; `call` posts nothing (see PlatformLimits.callsPerSecond). */
  kind?: 'message' | 'call';
}

interface Waiter {
  req: AcquireRequest;
  priority: number;
  seq: number;
  resolve: () => void;
}

class Window {
  private readonly stamps: number[] = [];
  constructor(
    readonly max: number,
    readonly spanMs: number,
    /** Least time between two grants (0: a whole window's worth may go at once). */
    readonly gapMs = 0,
  ) {}
  private prune(now: number) {
    while (this.stamps.length > 0 && this.stamps[0]! <= now - this.spanMs) this.stamps.shift();
  }
  /** 0 when a call may go now, else the ms until one may. */
  waitMs(now: number): number {
    this.prune(now);
    const spaced = this.gapMs > 0 && this.stamps.length > 0 ? Math.max(0, this.stamps[this.stamps.length - 1]! + this.gapMs - now) : 0;
    if (this.stamps.length < this.max) return spaced;
    return Math.max(spaced, this.stamps[this.stamps.length - this.max]! + this.spanMs - now);
  }
  take(now: number) {
    this.stamps.push(now);
  }
  get idle(): boolean {
    return this.stamps.length === 0;
  }
}

export interface LimiterStats {
  calls: Map<string, number>;
  throttled: Map<string, number>;
}

export class OutboundLimiter {
  private readonly waiters: Waiter[] = [];
  private readonly windows = new Map<string, Window>();
  private readonly nextAllowedAt = new Map<string, number>();
  private readonly pausedUntil = new Map<string, number>();
  private seq = 0;
  private timer: { at: number; cancelled: boolean } | null = null;
  readonly stats: LimiterStats = { calls: new Map(), throttled: new Map() };

  constructor(
    private readonly clock: Clock,
    private readonly limits: Record<string, PlatformLimits>,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Resolves when the call may be made; the slot is taken at that moment. Made by a job that the worker
   * asks to yield before this is granted (its context's yield signal aborts): rejects with YieldedError
   * and takes no slot.
   */
  acquire(req: AcquireRequest): Promise<void> {
    const job = currentJobContext();
    return new Promise((resolve, reject) => {
      if (job && !job.granted && job.yieldSignal.aborted) {
        job.yielded = true;
        reject(new YieldedError());
        return;
      }
      const onYield = () => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return; // granted already
        this.waiters.splice(i, 1);
        job!.waiting--;
        job!.yielded = true;
        reject(new YieldedError());
        this.pump();
      };
      const waiter: Waiter = {
        req,
        priority: LANES[req.lane],
        seq: this.seq++,
        resolve: () => {
          if (job) {
            job.waiting--;
            job.granted = true;
            job.yieldSignal.removeEventListener('abort', onYield);
          }
          resolve();
        },
      };
      // Only a job that has made no call yet can be asked to yield (re-running it repeats nothing).
      if (job && !job.granted) job.yieldSignal.addEventListener('abort', onYield, { once: true });
      if (job) job.waiting++;
      this.waiters.push(waiter);
      this.waiters.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      this.pump();
    });
  }

  /** The platform answered 429: nobody calls it again before `ms` has passed. */
  pause(platform: string, ms: number): void {
    const until = this.clock.now() + ms;
    this.pausedUntil.set(platform, Math.max(this.pausedUntil.get(platform) ?? 0, until));
    this.stats.throttled.set(platform, (this.stats.throttled.get(platform) ?? 0) + 1);
    this.pump();
  }

  get pending(): number {
    return this.waiters.length;
  }

  private window(key: string, max: number, spanMs: number, gapMs = 0): Window {
    let w = this.windows.get(key);
    if (!w) {
      w = new Window(max, spanMs, gapMs);
      this.windows.set(key, w);
    }
    return w;
  }

  private windowsFor(req: AcquireRequest): Window[] {
    const l = this.limits[req.platform] ?? {};
    const m = l.marginMs ?? 0;
    const ws: Window[] = [];
    const gap = (perSecond: number) => (l.spaceGrants ? Math.ceil(1000 / perSecond) : 0);
    if (req.kind === 'call' && l.callsPerSecond) ws.push(this.window(`${req.platform}:calls`, l.callsPerSecond, 1000 + m, gap(l.callsPerSecond)));
    else if (l.perSecond) ws.push(this.window(`${req.platform}`, l.perSecond, 1000 + m, gap(l.perSecond)));
    if (l.perDay) ws.push(this.window(`${req.platform}:day`, l.perDay, 86_400_000));
    if (req.chatId !== undefined) {
      if (req.isGroup && l.perGroupPerMinute) ws.push(this.window(`${req.platform}:g:${req.chatId}`, l.perGroupPerMinute, 60_000 + m));
      if (!req.isGroup && l.perChatPerSecond) ws.push(this.window(`${req.platform}:c:${req.chatId}`, l.perChatPerSecond, 1000 + m));
    }
    return ws;
  }

  private waitFor(req: AcquireRequest, now: number): number {
    let wait = Math.max(0, (this.pausedUntil.get(req.platform) ?? 0) - now, (this.nextAllowedAt.get(req.platform) ?? 0) - now);
    for (const w of this.windowsFor(req)) wait = Math.max(wait, w.waitMs(now));
    return wait;
  }

  private pump(): void {
    const now = this.clock.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]!;
      const wait = this.waitFor(w.req, now);
      if (wait > 0) {
        soonest = Math.min(soonest, wait);
        i++;
        continue;
      }
      for (const win of this.windowsFor(w.req)) win.take(now);
      const l = this.limits[w.req.platform] ?? {};
      if (l.minIntervalMs) this.nextAllowedAt.set(w.req.platform, now + l.minIntervalMs + Math.floor(this.random() * (l.jitterMs ?? 0)));
      this.stats.calls.set(w.req.platform, (this.stats.calls.get(w.req.platform) ?? 0) + 1);
      this.waiters.splice(i, 1);
      w.resolve();
    }
    this.gc();
    if (this.waiters.length > 0 && Number.isFinite(soonest)) this.schedule(now + soonest);
  }

  private schedule(at: number): void {
    if (this.timer && !this.timer.cancelled && this.timer.at <= at) return;
    if (this.timer) this.timer.cancelled = true;
    const t = { at, cancelled: false };
    this.timer = t;
    void this.clock.sleep(at - this.clock.now()).then(() => {
      if (t.cancelled) return;
      this.timer = null;
      this.pump();
    });
  }

  /** Forget idle per-chat windows so memory follows the chats active in the last minute. */
  private gc(): void {
    if (this.windows.size < 10_000) return;
    const now = this.clock.now();
    for (const [k, w] of this.windows) {
      w.waitMs(now);
      if (w.idle) this.windows.delete(k);
    }
  }
}

/**
 * Bot FAQ limits for Telegram (messages; calls that post nothing get their own conservative 30/s), spaced;
 * ≥ 1 s with jitter and a daily cap for WeChat; the playground is local.
 */
export const DEFAULT_LIMITS: Record<string, PlatformLimits> = {
  telegram: { perSecond: 30, callsPerSecond: 30, perChatPerSecond: 1, perGroupPerMinute: 20, marginMs: 50, spaceGrants: true },
  wechat: { minIntervalMs: 1000, jitterMs: 500, perDay: 2000 },
  playground: {},
};
