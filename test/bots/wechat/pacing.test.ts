// Pacing: every call to WeChat waits for the shared limiter: at least 1 s (plus jitter) apart, invites
// and removals before reminders, and a daily cap that makes work wait rather than drop it.
import { afterEach, describe, expect, it } from 'vitest';
import { notifyJob } from '../../../src/app/job-kinds.ts';
import { DAY_MS } from '../../../src/domain/time.ts';
import { bindWithPlan, botRoom, buy, makeOwner, person, settle, startWorld, waitFor, type World } from './harness.ts';

describe('WeChat pacing', () => {
  let w: World;
  afterEach(async () => {
    await w.close();
  });

  it('keeps every send and room operation at least 1 s apart', async () => {
    w = await startWorld('sqlite');
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    await bindWithPlan(w, owner, room);
    for (const name of ['Ann', 'Ben']) await buy(w, person(w, name));
    const calls = [...w.puppet.sent.map((s) => s.at), ...w.puppet.ops.map((o) => o.at)].sort((a, b) => a - b);
    expect(calls.length).toBeGreaterThan(15);
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...gaps)).toBeLessThan(60_000 + 2000); // paced, not stalled (the longest wait is a plan's pay click)
  });

  it('lets an invite overtake reminders already waiting', async () => {
    w = await startWorld('sqlite');
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    const readers = ['R1', 'R2', 'R3', 'R4'].map((n) => person(w, n));
    const dave = person(w, 'Dave');
    const now = w.clock.now();
    const daveAccount = await w.db.store.accounts.upsert({ platform: 'wechat', platformUserId: dave.id, displayName: 'Dave' }, now);
    const m = await w.db.store.memberships.insert({ accountId: daveAccount.id, groupId: group.id, status: 'active', expiresAt: now + 30 * DAY_MS }, now);
    const gateway = w.service.deps.gateways.get('wechat')!;
    await settle(w);
    await w.clock.advance(5000); // the limiter is idle

    const done: string[] = [];
    const pending = readers.map((r) => gateway.sendText(r.id, 'Your membership ends soon', { lane: 'reminder' }).then(() => done.push(r.id)));
    // The first reminder takes the free slot; three wait.
    await waitFor(() => done.length === 1 && w.service.limiter.pending === 3, 'reminders queued');
    pending.push(
      gateway.invite(room.id, dave.id, { membershipId: m.id, expiresAt: m.expiresAt, groupTitle: 'Club', locale: 'en' }).then(() => done.push('invite')),
    );
    await waitFor(() => w.service.limiter.pending === 4, 'invite queued');
    await settle(w, { until: () => done.length === 5 });
    await Promise.all(pending);
    // The invite, queued last, goes before the three reminders that were waiting.
    expect(done).toEqual([readers[0]!.id, 'invite', readers[1]!.id, readers[2]!.id, readers[3]!.id]);
    const add = w.puppet.ops.find((o) => o.contactId === dave.id)!;
    const reminderTimes = readers.map((r) => w.puppet.sentTo(r.id)[0]!.at);
    expect(add.at).toBeLessThan(reminderTimes[1]!);
    expect(add.at).toBeGreaterThan(reminderTimes[0]!);
  });

  it('holds the daily cap: sends past it wait for the next day, none is dropped', async () => {
    w = await startWorld('sqlite', { env: { WECHAT_DAILY_CAP: '3' } });
    const now = w.clock.now();
    const who = ['P1', 'P2', 'P3', 'P4', 'P5'].map((n) => person(w, n));
    const accounts = [];
    for (const c of who) accounts.push(await w.db.store.accounts.upsert({ platform: 'wechat', platformUserId: c.id, displayName: c.payload.name }, now));
    await w.db.store.jobs.enqueue(
      accounts.map((a, i) => notifyJob({ accountId: a.id, message: { key: 'reminder.grace', params: { group: 'Club', graceUntil: now } } }, `cap-${i}`)),
      now,
    );

    const draining = w.service.worker.drain();
    for (let i = 0; i < 120; i++) await w.clock.advance(1000);
    expect(w.puppet.sent).toHaveLength(3);
    expect(w.service.limiter.pending).toBe(2);
    expect(await w.db.store.jobs.list({ status: 'dead' })).toEqual([]);

    await w.clock.advance(DAY_MS);
    await draining;
    await settle(w);
    expect(w.puppet.sent).toHaveLength(5);
    expect(new Set(w.puppet.sent.map((s) => s.to))).toEqual(new Set(who.map((c) => c.id)));
    expect((await w.db.store.jobs.list({ kind: 'notify' })).every((j) => j.status === 'done')).toBe(true);
    expect(w.puppet.sent[3]!.at - w.puppet.sent[0]!.at).toBeGreaterThanOrEqual(DAY_MS);
  });
});
