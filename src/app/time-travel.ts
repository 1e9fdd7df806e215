// The playground's time travel as a rule about the clock and the sweeps: a jump does not leap to its end
// and sweep once, it stops at every moment something falls due on the way (each reminder offset, the end
// of a paid period, the end of grace, an order's time-out, a job's retry) and runs the sweeps and the
// due jobs there, in order. So "+30 days" shows exactly what 30 real days would: the 3-day reminder, the
// 1-day reminder, grace, removal. The offset is stored, so the CLI (and a restarted service) share "now".
import { type OffsetClock } from './clocks.ts';
import type { Repos } from './ports.ts';

/** More stops than this in one jump (a job retried again and again) and the rest is one leap. */
export const MAX_TRAVEL_STOPS = 2_000;

export interface TimeTravelDeps {
  store: Pick<Repos, 'groups' | 'memberships' | 'orders' | 'jobs' | 'clock'>;
  clock: OffsetClock;
  /** Runs every sweep once at the clock's current time. */
  tick(): Promise<unknown>;
  /** Runs the jobs due now to their end (reminders and removals go out before the clock moves on). */
  settle(): Promise<unknown>;
  /** Told at each stop (the playground shows its clock move). */
  onStop?(now: number, offsetMs: number): void;
}

/** The earliest moment after `after` at which a sweep or a job has something to do, or null. */
export async function nextDueTime(store: TimeTravelDeps['store'], after: number): Promise<number | null> {
  let next: number | null = null;
  const consider = (t: number | null | undefined) => {
    if (typeof t === 'number' && Number.isFinite(t) && t > after && (next === null || t < next)) next = t;
  };
  const offsets = new Map((await store.groups.list()).map((g) => [g.id, g.reminderOffsetsMs.filter((o) => o > 0)]));
  for (const m of await store.memberships.list({ status: 'active' })) {
    consider(m.expiresAt);
    for (const o of offsets.get(m.groupId) ?? []) consider(m.expiresAt - o);
  }
  for (const m of await store.memberships.list({ status: 'grace' })) consider(m.graceUntil);
  for (const o of await store.orders.page({ status: 'pending', limit: 10_000 })) consider(o.expiresAt);
  for (const j of await store.jobs.list({ status: 'queued' })) consider(j.runAt);
  return next;
}

/** Moves the clock `ms` forward through every due time on the way; returns where it stopped last and how often. */
export async function travel(d: TimeTravelDeps, ms: number): Promise<{ now: number; offsetMs: number; stops: number }> {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError('time only moves forward');
  // The jump ends at an offset of exactly `ms` more, however long the stops on the way take in real time.
  const targetOffset = d.clock.offset + ms;
  let stops = 0;
  for (;;) {
    const end = d.clock.now() - d.clock.offset + targetOffset;
    const due = stops < MAX_TRAVEL_STOPS ? await nextDueTime(d.store, d.clock.now()) : null;
    const last = due === null || due >= end;
    if (last) d.clock.advance(targetOffset - d.clock.offset);
    else d.clock.moveTo(due);
    stops++;
    await d.store.clock.setOffset(d.clock.offset, d.clock.now());
    d.onStop?.(d.clock.now(), d.clock.offset);
    await d.tick();
    await d.settle();
    if (last) return { now: d.clock.now(), offsetMs: d.clock.offset, stops };
  }
}

/**
 * Back to real time (what happened while travelling stays: a removal is not undone). The jobs due are run
 * first, so none is left running with a lease the moved-back clock would not reach for days.
 */
export async function resetTravel(d: Pick<TimeTravelDeps, 'store' | 'clock' | 'settle' | 'onStop'>): Promise<{ now: number; offsetMs: number }> {
  await d.settle();
  d.clock.reset();
  await d.store.clock.setOffset(0, d.clock.now());
  d.onStop?.(d.clock.now(), 0);
  return { now: d.clock.now(), offsetMs: 0 };
}
