// Issue 13 parts 3 and 4 on a whole service with a recording chat gateway and a fake clock: an outage
// of hours loses no invite and no removal, the access sweep fixes what jobs could not, and an owner
// whose chat always fails does not set off an alert storm.
import { describe, expect, it as plainIt } from 'vitest';
import { inviteJob, removeJob } from '../../src/app/job-kinds.ts';
import type { Account, Group } from '../../src/app/model.ts';
import type { Store } from '../../src/app/ports.ts';
import type { MembershipStatus } from '../../src/domain/membership.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { HOUR_MS, MINUTE_MS } from '../../src/domain/time.ts';
import { DIALECTS, openTestDb } from '../helpers/db.ts';
import type { TestService } from '../helpers/service.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

describe.each(DIALECTS)('access through outages (%s)', (dialect) => {
  // Each test gets its own service with an owner, Olga, and her group, room-1.
  const it = serviceTest(dialect).extend<{ w: Awaited<ReturnType<typeof world>> }>({
    w: async ({ t }, use) => use(await world(t)),
  });

  it('a 2-hour outage of the platform: afterwards the paid member is let in and the lapsed one removed, nothing dead-lettered', async ({ t, w }) => {
    const { store, member, minutes, roster } = w;
    const now = t.clock.now();
    const alice = await member('alice', 'active', now + 30 * 86_400_000);
    const bob = await member('bob', 'active', now + 10 * MINUTE_MS);
    roster().add('bob');
    await store.jobs.enqueue([inviteJob({ membershipId: alice.id, expiresAt: alice.expiresAt })], now);
    const lift = t.gateway.failWhen(
      () => true,
      () => new ProviderUnreachableError('playground', 'connection refused'),
    );
    await minutes(120);
    // Bob lapsed and his grace ended during the outage: his removal is waiting, as is Alice's invite.
    expect((await store.memberships.get(bob.id))!.status).toBe('expired');
    expect(roster().has('alice')).toBe(false);
    expect(roster().has('bob')).toBe(true);
    const during = await store.jobs.list({});
    expect(during.filter((j) => j.kind === 'invite' || j.kind === 'remove').every((j) => j.status === 'queued')).toBe(true);
    expect((await store.jobs.list({ kind: 'invite' }))[0]!.attempts).toBeGreaterThan(8);
    lift();
    await minutes(10);
    expect(roster().has('alice')).toBe(true);
    expect(roster().has('bob')).toBe(false);
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
    expect((await store.jobs.list({ kind: 'remove' })).every((j) => j.status === 'done')).toBe(true);
    expect(t.gateway.of('text').some((c) => c.userId === 'bob' && c.text.includes('removed'))).toBe(true);
  });

  it('a failure of our own while asking for a member is not taken for the platform being down: the tick fails with it, the row is put back', async ({
    t,
    w,
  }) => {
    const { member, roster } = w;
    await member('alice', 'active', t.clock.now() + 30 * 86_400_000);
    roster().add('alice');
    await t.clock.advance(7 * HOUR_MS); // a grant is looked at 6 hours after it was made
    const lift = t.gateway.failWhen(
      (c) => c.op === 'status',
      () => new Error('database is down'),
    );
    await expect(t.service.scheduler.tick()).rejects.toThrow('database is down');
    expect(t.logger.lines.some((l) => l.msg === 'access sweep: could not ask the platform')).toBe(false);
    lift();
    // Put back: looked at again on the next tick, not 6 hours later.
    expect((await t.service.scheduler.tick()).access).toMatchObject({ checked: 1, confirmed: 1, unreachable: [] });
  });

  it('the sweep invites a paid member again once a refusal is gone, and stops once they are in', async ({ t, w }) => {
    const { store, member, minutes, roster } = w;
    const now = t.clock.now();
    const alice = await member('alice', 'active', now + 30 * 86_400_000);
    const lift = t.gateway.failWhen(
      (c) => c.op === 'invite' && c.userId === 'alice',
      () => new ProviderRejectedError('playground', 'user blocked the bot'),
    );
    await store.jobs.enqueue([inviteJob({ membershipId: alice.id, expiresAt: alice.expiresAt })], now);
    await t.service.worker.drain();
    expect(await store.jobs.list({ kind: 'invite', status: 'dead' })).toHaveLength(1);
    lift();
    // The sweep gives a grant 6 hours before it looks (the platform's own invitation goes first).
    await minutes(20);
    expect(roster().has('alice')).toBe(false);
    await t.clock.advance(6 * HOUR_MS);
    await minutes(5);
    expect(roster().has('alice')).toBe(true);
    expect(t.gateway.of('invite').filter((c) => c.userId === 'alice')).toHaveLength(1);
    expect((await store.audit.list({ subjectType: 'membership', subjectId: String(alice.id) })).some((a) => a.action === 'membership.reinvite')).toBe(true);
    // Confirmed in: later sweeps leave her alone, even if she leaves on her own.
    roster().delete('alice');
    await t.clock.advance(7 * HOUR_MS);
    await minutes(5);
    expect(t.gateway.of('invite').filter((c) => c.userId === 'alice')).toHaveLength(1);
    // The owner heard about the refusal once.
    expect(t.gateway.of('text').filter((c) => c.userId === 'olga' && c.text.includes('Gave up'))).toHaveLength(1);
  });

  it('the sweep removes a lapsed, revoked or banned member still seen in the group, never a paid one', async ({ t, w }) => {
    const { store, member, minutes, roster } = w;
    const now = t.clock.now();
    const past = now - HOUR_MS;
    const carol = await member('carol', 'expired', past);
    const dan = await member('dan', 'revoked', now + 86_400_000);
    const eve = await member('eve', 'active', now + 86_400_000);
    for (const u of ['carol', 'dan', 'eve']) roster().add(u);
    await minutes(20);
    expect([...roster()].sort()).toEqual(['eve']);
    expect(
      t.gateway
        .of('remove')
        .map((c) => c.userId)
        .sort(),
    ).toEqual(['carol', 'dan']);
    expect((await store.audit.list({ subjectType: 'membership', subjectId: String(carol.id) })).some((a) => a.action === 'membership.reremove')).toBe(true);
    expect((await store.memberships.get(dan.id))!.status).toBe('revoked');
    expect((await store.memberships.get(eve.id))!.status).toBe('active');
    // Done: nobody is asked about again and again.
    const asked = t.gateway.calls.length;
    await minutes(10);
    expect(t.gateway.calls.length).toBe(asked);
  });

  it('a removal the platform keeps refusing is tried again a bounded number of times, and the owner is told once', async ({ t, w }) => {
    const { store, member, minutes, roster } = w;
    const now = t.clock.now();
    await member('frank', 'expired', now - HOUR_MS);
    roster().add('frank');
    t.gateway.failWhen(
      (c) => c.op === 'remove',
      () => new ProviderRejectedError('playground', 'not enough rights to remove this member'),
    );
    await minutes(20);
    for (let i = 0; i < 5; i++) {
      await t.clock.advance(6 * HOUR_MS);
      await minutes(2);
    }
    const removals = await store.jobs.list({ kind: 'remove' });
    expect(removals).toHaveLength(3);
    expect(removals.every((j) => j.status === 'dead')).toBe(true);
    expect(t.gateway.of('text').filter((c) => c.userId === 'olga' && c.text.includes('Gave up on a "remove" task'))).toHaveLength(1);
  });

  it('with no adapter running for a platform, the sweep leaves its rows alone', async ({ t, w }) => {
    const { store, owner, minutes } = w;
    const now = t.clock.now();
    const tg = await store.groups.insert(
      { platform: 'telegram', platformChatId: '-100', title: 'TG', ownerAccountId: owner.id, graceMs: HOUR_MS, reminderOffsetsMs: [] },
      now,
    );
    const a = await store.accounts.upsert({ platform: 'telegram', platformUserId: '42', displayName: 'x', locale: 'en' }, now);
    const m = await store.memberships.insert({ accountId: a.id, groupId: tg.id, status: 'expired', expiresAt: now - HOUR_MS }, now);
    await minutes(20);
    expect(await store.jobs.list({ kind: 'remove' })).toEqual([]);
    expect((await store.memberships.get(m.id))!.status).toBe('expired');
  });

  it('an owner chat that always fails: 100 dead jobs raise a bounded number of alerts, and the jobs table stops growing', async ({ t, w }) => {
    const { store, member } = w;
    const now = t.clock.now();
    t.gateway.failWhen(
      (c) => c.userId === 'olga',
      () => new ProviderRejectedError('playground', 'bot was blocked by the user'),
    );
    t.gateway.failWhen(
      (c) => c.op === 'invite',
      () => new ProviderRejectedError('playground', 'chat not found'),
    );
    const jobs = [];
    for (let i = 0; i < 100; i++) {
      const m = await member(`m${i}`, 'active', now + 86_400_000 + i);
      jobs.push(inviteJob({ membershipId: m.id, expiresAt: m.expiresAt }));
    }
    await store.jobs.enqueue(jobs, now);
    const sizes: number[] = [];
    for (let round = 0; round < 4; round++) {
      await t.service.worker.drain();
      sizes.push((await store.jobs.list({})).length);
      await t.clock.advance(2 * HOUR_MS);
    }
    // 100 invites, one alert each, and one message to the owner per hour at most.
    expect(sizes[0]).toBeLessThanOrEqual(100 + 100 + 2);
    expect(new Set(sizes.slice(0, 2)).size).toBe(1);
    expect(await store.jobs.list({ kind: 'notify' })).toHaveLength(1);
    expect((await store.jobs.list({ kind: 'invite', status: 'dead' })).length).toBe(100);
  });

  it('coalesces owner alerts of one kind to one per hour, the next one saying how many were held back', async ({ t, w }) => {
    const { store, member } = w;
    const now = t.clock.now();
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      const m = await member(`m${i}`, 'active', now + 86_400_000 + i);
      jobs.push(removeJob({ membershipId: m.id, reason: 'revoked', expectStatus: 'revoked' }, 'x'));
      await store.memberships.update(m.id, { status: 'revoked', expiresAt: m.expiresAt, graceUntil: null }, now);
    }
    t.gateway.failWhen(
      (c) => c.op === 'remove',
      () => new ProviderRejectedError('playground', 'not enough rights'),
    );
    await store.jobs.enqueue(jobs, now);
    await t.service.worker.drain();
    const toOwner = () => t.gateway.of('text').filter((c) => c.userId === 'olga');
    expect(toOwner()).toHaveLength(1);
    // An hour later one more failure: its alert carries the count of the 4 held back.
    await t.clock.advance(HOUR_MS);
    const m = await member('late', 'revoked', now + 86_400_000);
    await store.jobs.enqueue([removeJob({ membershipId: m.id, reason: 'revoked', expectStatus: 'revoked' }, 'x')], t.clock.now());
    await t.service.worker.drain();
    expect(toOwner()).toHaveLength(2);
    expect(toOwner()[1]!.text).toContain('4 more alerts');
  });
});

describe.each(DIALECTS.filter((d) => d === 'postgres'))('access sweep on several instances (%s)', (dialect) => {
  plainIt('two instances claiming at once never take the same membership', async () => {
    const db = await openTestDb(dialect);
    try {
      const now = Date.UTC(2026, 0, 1);
      const store = db.store;
      const g = await store.groups.insert(
        { platform: 'playground', platformChatId: 'room-1', title: 'R', ownerAccountId: null, graceMs: HOUR_MS, reminderOffsetsMs: [] },
        now,
      );
      for (let i = 0; i < 120; i++) {
        const a = await store.accounts.upsert({ platform: 'playground', platformUserId: `u${i}`, displayName: null, locale: null }, now);
        await store.memberships.insert(
          { accountId: a.id, groupId: g.id, status: i % 2 ? 'active' : 'expired', expiresAt: i % 2 ? now + 30 * 86_400_000 : now - HOUR_MS },
          now,
        );
      }
      const later = now + 7 * HOUR_MS;
      const [a, b] = [await db.reopen(), await db.reopen()];
      const q = {
        now: later,
        platforms: ['playground' as const],
        settledBefore: later - 15 * MINUTE_MS,
        recheckBefore: later - 6 * HOUR_MS,
        maxReinvites: 3,
        limit: 25,
      };
      const batches = await Promise.all(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? a.store : b.store).transaction((tx) => tx.memberships.claimAccessChecks(q))),
      );
      const ids = batches.flat().map((r) => r.membershipId);
      expect(ids).toHaveLength(120);
      expect(new Set(ids).size).toBe(120);
      for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(25);
      // Stamped: nothing is due again right away.
      expect(await store.transaction((tx) => tx.memberships.claimAccessChecks(q))).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

async function world(t: TestService) {
  const store: Store = t.service.deps.store;
  const now = t.clock.now();
  const owner: Account = await store.accounts.upsert({ platform: 'playground', platformUserId: 'olga', displayName: 'Olga', locale: 'en' }, now);
  await store.accounts.setOwner(owner.id);
  const group: Group = await store.groups.insert(
    { platform: 'playground', platformChatId: 'room-1', title: 'Readers', ownerAccountId: owner.id, graceMs: HOUR_MS, reminderOffsetsMs: [] },
    now,
  );
  const member = async (name: string, status: MembershipStatus, expiresAt: number) => {
    const now = t.clock.now();
    const a = await store.accounts.upsert({ platform: 'playground', platformUserId: name, displayName: name, locale: 'en' }, now);
    return store.memberships.insert({ accountId: a.id, groupId: group.id, status, expiresAt }, now);
  };
  /** One minute of service life: the clock moves, cron ticks, the worker drains. */
  const minutes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await t.clock.advance(MINUTE_MS);
      await t.service.scheduler.tick();
      await t.service.worker.drain();
    }
  };
  const roster = () => t.gateway.roster('room-1');
  return { store, owner, group, member, minutes, roster };
}
