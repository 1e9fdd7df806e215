// The broadcasts store (migration 0024): broadcast rows, their jobs counted by status through the partial
// index on jobs(broadcast_id, status), who a group's broadcast goes to, and the migration down and up again
// with rows in place.
import { CompiledQuery } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.ts';
import { jobCountsQuery } from '../../src/store/broadcasts-repository.ts';
import { migrateDown, migrateToLatest } from '../../src/store/database.ts';
import { DIALECTS, openTestDb, type TestDb } from '../helpers/db.ts';

describe.each(DIALECTS)('broadcasts store (%s)', (dialect) => {
  let t: TestDb;
  const now = Date.UTC(2026, 0, 1);
  beforeEach(async () => {
    t = await openTestDb(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  const group = (chatId: string) =>
    t.store.groups.insert({ platform: 'playground', platformChatId: chatId, title: chatId, ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] }, now);
  const notify = (accountId: number, broadcastId?: number) => ({
    kind: 'notify',
    payload: { accountId, message: { key: 'broadcast', params: {} }, ...(broadcastId ? { broadcastId } : {}) },
    lane: 'broadcast' as const,
    ...(broadcastId ? { broadcastId } : {}),
  });

  it('recipients: the members in the statuses asked for, by membership id, with their locale', async () => {
    const g = await group('room-1');
    const other = await group('room-2');
    const people = await Promise.all(
      ['a', 'b', 'c', 'd'].map((u, i) => t.store.accounts.upsert({ platform: 'playground', platformUserId: u, locale: i === 1 ? 'zh-CN' : null }, now)),
    );
    const statuses = ['active', 'grace', 'expired', 'active'] as const;
    const ms = [];
    for (const [i, p] of people.entries())
      ms.push(await t.store.memberships.insert({ accountId: p.id, groupId: g.id, status: statuses[i]!, expiresAt: now }, now));
    await t.store.memberships.insert({ accountId: people[0]!.id, groupId: other.id, status: 'active', expiresAt: now }, now);
    expect(await t.store.broadcasts.recipients(g.id, ['active', 'grace'])).toEqual([
      { membershipId: ms[0]!.id, accountId: people[0]!.id, locale: null },
      { membershipId: ms[1]!.id, accountId: people[1]!.id, locale: 'zh-CN' },
      { membershipId: ms[3]!.id, accountId: people[3]!.id, locale: null },
    ]);
    expect(await t.store.broadcasts.recipients(g.id, [])).toEqual([]);
    expect(await t.store.broadcasts.recipientCounts([g.id, other.id, g.id + other.id + 1], ['active', 'grace'])).toEqual(
      expect.arrayContaining([
        { groupId: g.id, count: 3 },
        { groupId: other.id, count: 1 },
      ]),
    );
    expect(await t.store.broadcasts.recipientCounts([g.id, other.id], ['grace'])).toEqual([{ groupId: g.id, count: 1 }]);
    expect(await t.store.broadcasts.recipientCounts([], ['active'])).toEqual([]);
  });

  it('rows newest first (by group when asked); their jobs counted by status, other jobs never', async () => {
    const g1 = await group('room-1');
    const g2 = await group('room-2');
    const acc = await t.store.accounts.upsert({ platform: 'playground', platformUserId: 'a' }, now);
    const b1 = await t.store.broadcasts.insert({ groupId: g1.id, actor: 'account:1', textLength: 5, recipients: 3 }, now);
    const b2 = await t.store.broadcasts.insert({ groupId: g2.id, actor: 'admin:cli', textLength: 7, recipients: 1 }, now + 1);
    expect(b1).toEqual({ id: b1.id, groupId: g1.id, actor: 'account:1', textLength: 5, recipients: 3, createdAt: now });
    expect(await t.store.broadcasts.get(b2.id)).toEqual(b2);
    expect(await t.store.broadcasts.get(b2.id + 100)).toBeNull();
    expect((await t.store.broadcasts.listRecent({ limit: 10 })).map((b) => b.id)).toEqual([b2.id, b1.id]);
    expect((await t.store.broadcasts.listRecent({ limit: 1 })).map((b) => b.id)).toEqual([b2.id]);
    expect((await t.store.broadcasts.listRecent({ groupIds: [g1.id], limit: 10 })).map((b) => b.id)).toEqual([b1.id]);
    expect(await t.store.broadcasts.listRecent({ groupIds: [], limit: 10 })).toEqual([]);

    await t.store.jobs.enqueue([notify(acc.id, b1.id), notify(acc.id, b1.id), notify(acc.id, b1.id), notify(acc.id, b2.id), notify(acc.id)], now);
    // Claimed in id order (one lane): complete the first, bury the second; the third waits.
    const [j1] = await t.store.jobs.claim('w', now, 60_000, 1);
    expect(await t.store.jobs.complete(j1!.id, 'w', now)).toBe(true);
    const [j2] = await t.store.jobs.claim('w', now, 60_000, 1);
    expect(await t.store.jobs.bury(j2!.id, 'w', 'blocked', now)).toBe(true);
    const counts = await t.store.broadcasts.jobCounts([b1.id, b2.id]);
    expect(counts.sort((x, y) => x.broadcastId - y.broadcastId || x.status.localeCompare(y.status))).toEqual([
      { broadcastId: b1.id, status: 'dead', count: 1 },
      { broadcastId: b1.id, status: 'done', count: 1 },
      { broadcastId: b1.id, status: 'queued', count: 1 },
      { broadcastId: b2.id, status: 'queued', count: 1 },
    ]);
    expect(await t.store.broadcasts.jobCounts([])).toEqual([]);
    const plain = await t.opened.db.selectFrom('jobs').select('broadcast_id').where('broadcast_id', 'is', null).execute();
    expect(plain).toHaveLength(1);
  });

  it('counting reads the partial index on (broadcast_id, status), never the whole jobs table', async () => {
    const c = jobCountsQuery(t.opened.db, [1, 2]).compile();
    const plan =
      dialect === 'sqlite'
        ? (await t.opened.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${c.sql}`, [...c.parameters]))).rows.map((r) => r.detail)
        : await t.opened.db.transaction().execute(async (tx) => {
            await tx.executeQuery(CompiledQuery.raw('SET LOCAL enable_seqscan = off'));
            return (await tx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${c.sql}`, [...c.parameters]))).rows.map((r) => r['QUERY PLAN']);
          });
    const text = plan.join('\n');
    expect(text).toContain('jobs_broadcast_status_idx');
    expect(text).not.toMatch(/\bSCAN jobs\b|Seq Scan/);
  });

  it('0024 goes down with broadcasts and their jobs in place (the jobs stay) and up again', async () => {
    const g = await group('room-1');
    const acc = await t.store.accounts.upsert({ platform: 'playground', platformUserId: 'a' }, now);
    const b = await t.store.broadcasts.insert({ groupId: g.id, actor: 'account:1', textLength: 5, recipients: 1 }, now);
    await t.store.jobs.enqueue([notify(acc.id, b.id)], now);
    const after = Object.keys(migrations)
      .sort()
      .filter((k) => k >= '0024');
    expect(await migrateDown(t.opened, after.length)).toEqual([...after].reverse());
    expect(await t.opened.db.selectFrom('jobs').select(['kind', 'status']).execute()).toEqual([{ kind: 'notify', status: 'queued' }]);
    expect(await migrateToLatest(t.opened)).toEqual(after);
    expect(await t.store.broadcasts.listRecent({ limit: 10 })).toEqual([]);
    expect((await t.opened.db.selectFrom('jobs').select('broadcast_id').execute()).map((r) => r.broadcast_id)).toEqual([null]);
  });
});
