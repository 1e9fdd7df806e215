import type { Clock } from '../domain/time.ts';

/** Wall-clock time. Every configuration uses this except the playground's time travel (an offset on top). */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/** The system clock moved forward by a settable offset; `sleep` still waits real time. */
export class OffsetClock implements Clock {
  private offsetMs: number;
  constructor(
    private readonly base: Clock = systemClock,
    offsetMs = 0,
  ) {
    if (!Number.isFinite(offsetMs) || offsetMs < 0) throw new RangeError('the clock offset is a number of milliseconds ≥ 0');
    this.offsetMs = offsetMs;
  }
  now(): number {
    return this.base.now() + this.offsetMs;
  }
  sleep(ms: number): Promise<void> {
    return this.base.sleep(ms);
  }
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('time only moves forward');
    this.offsetMs += ms;
  }
  /** Moves forward to `at` (no-op when `at` is not later than now). */
  moveTo(at: number): void {
    this.advance(Math.max(0, at - this.now()));
  }
  /** Back to real time. */
  reset(): void {
    this.offsetMs = 0;
  }
  get offset(): number {
    return this.offsetMs;
  }
}

/**
 * The clock a process runs on given the stored playground offset: real time when there is none, else
 * real time moved forward by it (so the CLI and the service agree on "now" while time travels).
 */
export function clockWithOffset(offsetMs: number, base: Clock = systemClock): Clock {
  return offsetMs > 0 ? new OffsetClock(base, offsetMs) : base;
}
