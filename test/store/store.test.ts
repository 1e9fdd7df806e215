import { sql } from 'kysely';
import { migrateDown, migrateToLatest } from '../../src/store/database.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.ts';
import { DIALECTS, openTestDb, type TestDb } from '../helpers/db.ts';
import { expireDueStatement, lapseDueStatement } from '../../src/store/memberships-repository.ts';
import { expireDueOrdersStatement } from '../../src/store/orders-repository.ts';

describe.each(DIALECTS)('store (%s)', (dialect) => {
  let t: TestDb;
  const now = Date.UTC(2026, 0, 1);
  beforeEach(async () => {
    t = await openTestDb(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it('migrations go all the way down and up again', async () => {
    expect(await migrateDown(t.opened, Object.keys(migrations).length)).toEqual(Object.keys(migrations).sort().reverse());
    // Only our own schema: kysely's introspection scans every schema and fails when a neighbour test
    // run drops one of its tables mid-scan.
    const tables = async () => {
      const rows =
        t.dialect === 'postgres'
          ? (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${t.schema}`.execute(t.opened.db)).rows
          : (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(t.opened.db)).rows;
      return rows.filter((x) => !x.name.startsWith('kysely_'));
    };
    expect(await tables()).toHaveLength(0);
    expect(await migrateToLatest(t.opened)).toEqual(Object.keys(migrations).sort());
    expect(await migrateToLatest(t.opened)).toEqual([]);
    expect((await tables()).length).toBeGreaterThan(0);
  });

  it('0011: jobs still to run get the platform of their membership, account or group; others stay null', async () => {
    const after = Object.keys(migrations)
      .sort()
      .filter((k) => k >= '0011');
    const g = await t.store.groups.insert(
      { platform: 'wechat', platformChatId: 'r', title: 'R', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    const a = await t.store.accounts.upsert({ platform: 'telegram', platformUserId: 't1' }, now);
    const m = await t.store.memberships.insert({ accountId: a.id, groupId: g.id, status: 'active', expiresAt: now }, now);
    expect(await migrateDown(t.opened, after.length)).toEqual([...after].reverse());
    const job = (kind: string, payload: unknown, status = 'queued') => ({
      kind,
      payload: JSON.stringify(payload),
      lane: 'access',
      priority: 0,
      status,
      run_at: now,
      max_attempts: 8,
      dedupe_key: null,
      created_at: now,
      updated_at: now,
    });
    await t.opened.db
      .insertInto('jobs')
      .values([
        job('invite', { membershipId: m.id, expiresAt: now }),
        job('notify', { accountId: a.id }),
        job('remove_intruder', { groupId: g.id, userId: 'x' }),
        job('refund', { orderId: 'o1' }),
        job('invite', { membershipId: m.id, expiresAt: 1 }, 'done'),
      ] as never)
      .execute();
    expect(await migrateToLatest(t.opened)).toEqual(after);
    const rows = await t.opened.db.selectFrom('jobs').select(['kind', 'status', 'platform']).orderBy('id').execute();
    expect(rows.map((r) => [r.kind, r.status, r.platform])).toEqual([
      ['invite', 'queued', 'wechat'],
      ['notify', 'queued', 'telegram'],
      ['remove_intruder', 'queued', 'wechat'],
      ['refund', 'queued', null],
      ['invite', 'done', null],
    ]);
  });

  it('0012: access jobs split into invite (0) and removal (1) lanes by kind; every other lane moves down one; and back', async () => {
    const after = Object.keys(migrations)
      .sort()
      .filter((k) => k >= '0012');
    expect(await migrateDown(t.opened, after.length)).toEqual([...after].reverse());
    const job = (kind: string, lane: string, priority: number, status = 'queued') => ({
      kind,
      payload: 'null',
      lane,
      priority,
      status,
      run_at: now,
      max_attempts: 8,
      dedupe_key: null,
      platform: null,
      created_at: now,
      updated_at: now,
    });
    const before: Array<[string, string, number, string?]> = [
      ['invite', 'access', 0],
      ['remove', 'access', 0],
      ['roster_remove_intruder', 'access', 0, 'running'],
      ['telegram_intruder', 'access', 0],
      ['wechat_remove_intruder', 'access', 0],
      ['notify', 'notice', 1],
      ['close_order', 'system', 1],
      ['remind', 'reminder', 2],
      ['notify', 'broadcast', 3],
      ['invite', 'access', 0, 'done'],
      ['remove', 'access', 0, 'dead'],
    ];
    await t.opened.db
      .insertInto('jobs')
      .values(before.map(([k, l, p, st]) => job(k, l, p, st)) as never)
      .execute();
    const rows = async () =>
      (await t.opened.db.selectFrom('jobs').select(['kind', 'lane', 'priority']).orderBy('id').execute()).map((r) => [r.kind, r.lane, Number(r.priority)]);
    expect(await migrateToLatest(t.opened)).toEqual(after);
    expect(await rows()).toEqual([
      ['invite', 'invite', 0],
      ['remove', 'removal', 1],
      ['roster_remove_intruder', 'removal', 1],
      ['telegram_intruder', 'removal', 1],
      ['wechat_remove_intruder', 'removal', 1],
      ['notify', 'notice', 2],
      ['close_order', 'system', 2],
      ['remind', 'reminder', 3],
      ['notify', 'broadcast', 4],
      ['invite', 'invite', 0],
      ['remove', 'removal', 1],
    ]);
    // The split rows claim in the new order: the invite before the removals queued ahead of it.
    expect((await t.store.jobs.claim('w', now, 1000, 2)).map((j) => [j.kind, j.lane])).toEqual([
      ['invite', 'invite'],
      ['remove', 'removal'],
    ]);
    expect(await migrateDown(t.opened, after.length)).toEqual([...after].reverse());
    expect((await rows()).map(([k, l, p]) => [k, l, p])).toEqual(before.map(([k, l, p]) => [k, l, p]));
  });

  it('0006: owners from before scoped claims stay operators; a scope grant is idempotent', async () => {
    // Down to just before 0006 (and every migration after it), then up again.
    const fromOwnerScopes = Object.keys(migrations)
      .sort()
      .filter((k) => k >= '0006');
    expect(await migrateDown(t.opened, fromOwnerScopes.length)).toEqual([...fromOwnerScopes].reverse());
    const owner = await t.opened.db
      .insertInto('accounts')
      .values({ platform: 'telegram', platform_user_id: 'old-owner', display_name: null, locale: null, referred_by: null, is_owner: 1, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    const member = await t.opened.db
      .insertInto('accounts')
      .values({ platform: 'telegram', platform_user_id: 'member', display_name: null, locale: null, referred_by: null, is_owner: 0, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(await migrateToLatest(t.opened)).toEqual(fromOwnerScopes);
    expect(await t.store.ownerScopes.get(owner.id)).toEqual({ all: true, groupIds: [] });
    expect(await t.store.ownerScopes.get(member.id)).toEqual({ all: false, groupIds: [] });

    const g = await t.store.groups.insert(
      { platform: 'telegram', platformChatId: '-1', title: 'G', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    await t.store.ownerScopes.grant(member.id, [g.id, g.id], 'claim', now);
    await t.store.ownerScopes.grant(member.id, [g.id], 'claim', now);
    expect(await t.store.ownerScopes.get(member.id)).toEqual({ all: false, groupIds: [g.id] });
    await t.store.ownerScopes.grant(member.id, null, 'claim', now);
    await t.store.ownerScopes.grant(member.id, null, 'claim', now);
    expect(await t.store.ownerScopes.get(member.id)).toEqual({ all: true, groupIds: [] });
    expect((await t.opened.db.selectFrom('owner_scopes').select('id').where('account_id', '=', member.id).execute()).length).toBe(2);
  });

  it('reads BIGINT times, money and counts back as numbers', async () => {
    const a = await t.store.accounts.upsert({ platform: 'telegram', platformUserId: '42' }, 1_795_000_000_123);
    expect(a.createdAt).toBe(1_795_000_000_123);
    expect(typeof a.createdAt).toBe('number');
    const counts = await t.store.stats.membersByStatus();
    expect(counts).toEqual([]);
    expect(await t.store.stats.activeMembers()).toBe(0);
  });

  it('an account is unique per (platform, user) and upsert refreshes its name', async () => {
    const a1 = await t.store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx1', displayName: 'A' }, now);
    const a2 = await t.store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx1', displayName: 'B' }, now);
    const other = await t.store.accounts.upsert({ platform: 'telegram', platformUserId: 'wx1' }, now);
    expect(a2.id).toBe(a1.id);
    expect(a2.displayName).toBe('B');
    expect(other.id).not.toBe(a1.id);
  });

  it('unique keys make duplicates impossible: webhook events, ledger rows, periods, groups', async () => {
    const acc = await t.store.accounts.upsert({ platform: 'playground', platformUserId: 'u' }, now);
    const g = await t.store.groups.insert(
      { platform: 'playground', platformChatId: 'c', title: 'C', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    await expect(
      t.store.groups.insert({ platform: 'playground', platformChatId: 'c', title: 'again', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] }, now),
    ).rejects.toThrow();
    const plan = await t.store.plans.insert({ name: 'P', priceMinor: 100, currency: 'CNY', durationDays: 1, groupIds: [g.id] }, now);
    await t.store.orders.insert({
      id: 'o1',
      outTradeNo: 'n1',
      accountId: acc.id,
      planId: plan.id,
      amountMinor: 100,
      currency: 'CNY',
      provider: 'dev',
      status: 'pending',
      createdAt: now,
      updatedAt: now,
      expiresAt: now + 1,
      paidAt: null,
      providerTxnId: null,
      reviewReason: null,
      checkoutQr: null,
      checkoutUrl: null,
      outRefundNo: null,
      refundReason: null,
      refundedAt: null,
    });
    expect(await t.store.webhookEvents.insertIfAbsent({ provider: 'dev', eventId: 'e', orderId: 'o1', outcome: 'x', payload: '{}' }, now)).toBe(true);
    expect(await t.store.webhookEvents.insertIfAbsent({ provider: 'dev', eventId: 'e', orderId: 'o1', outcome: 'y', payload: '{}' }, now)).toBe(false);
    expect(await t.store.webhookEvents.insertIfAbsent({ provider: 'alipay', eventId: 'e', orderId: 'o1', outcome: 'x', payload: '{}' }, now)).toBe(true);
    const pay = { orderId: 'o1', provider: 'dev', providerTxnId: 'tx', kind: 'charge' as const, amountMinor: 100, currency: 'CNY', occurredAt: now };
    expect(await t.store.payments.insertIfAbsent(pay, now)).toBe(true);
    expect(await t.store.payments.insertIfAbsent(pay, now)).toBe(false);
    expect(await t.store.payments.insertIfAbsent({ ...pay, kind: 'refund' }, now)).toBe(true);
    const m = (await t.store.memberships.insertIfAbsent({ accountId: acc.id, groupId: g.id, status: 'expired', expiresAt: 0 }, now))!;
    expect(await t.store.memberships.insertIfAbsent({ accountId: acc.id, groupId: g.id, status: 'expired', expiresAt: 0 }, now)).toBeNull();
    expect((await t.store.memberships.getForUpdate(acc.id, g.id))!.id).toBe(m.id);
    const period = { membershipId: m.id, groupId: g.id, orderId: 'o1', kind: 'paid' as const, startsAt: now, endsAt: now + 1, days: 1 };
    expect(await t.store.periods.insertIfAbsent(period, now)).toBe(true);
    expect(await t.store.periods.insertIfAbsent(period, now)).toBe(false);
    // Comped periods have no order and never collide.
    expect(await t.store.periods.insertIfAbsent({ ...period, orderId: null, kind: 'comp' }, now)).toBe(true);
    expect(await t.store.periods.insertIfAbsent({ ...period, orderId: null, kind: 'comp' }, now)).toBe(true);
  });

  it('a conditional order transition moves only from the allowed statuses', async () => {
    const acc = await t.store.accounts.upsert({ platform: 'playground', platformUserId: 'u' }, now);
    const g = await t.store.groups.insert(
      { platform: 'playground', platformChatId: 'c', title: 'C', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    const plan = await t.store.plans.insert({ name: 'P', priceMinor: 100, currency: 'CNY', durationDays: 1, groupIds: [g.id] }, now);
    await t.store.orders.insert({
      id: 'o2',
      outTradeNo: 'n2',
      accountId: acc.id,
      planId: plan.id,
      amountMinor: 100,
      currency: 'CNY',
      provider: 'dev',
      status: 'pending',
      createdAt: now,
      updatedAt: now,
      expiresAt: now + 1,
      paidAt: null,
      providerTxnId: null,
      reviewReason: null,
      checkoutQr: null,
      checkoutUrl: null,
      outRefundNo: null,
      refundReason: null,
      refundedAt: null,
    });
    expect(await t.store.orders.transition('o2', ['pending', 'expired'], 'paid', { paidAt: now }, now)).toBe(true);
    expect(await t.store.orders.transition('o2', ['pending', 'expired'], 'paid', { paidAt: now }, now)).toBe(false);
    expect((await t.store.orders.get('o2'))!.paidAt).toBe(now);
  });

  it('the sweeps read through their indexes', async () => {
    // The exact statements the sweeps run. Each must reach its rows through an index on what is due (or
    // the primary key), never walk a table or an index over every member: issue 14 part 7 (an update
    // driven from `status = 'active'` read all active members to lapse a few).
    const statements = [
      { name: 'lapse', stmt: lapseDueStatement(dialect, now, 1000), index: 'memberships_active_expires_idx' },
      { name: 'expire', stmt: expireDueStatement(dialect, now, 1000), index: 'memberships_grace_until_idx' },
      { name: 'orders', stmt: expireDueOrdersStatement(dialect, now, 1000), index: 'orders_status_expires_idx' },
    ];
    for (const { name, stmt, index } of statements) {
      const plan =
        dialect === 'sqlite'
          ? (await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${stmt}`.execute(t.opened.db)).rows.map((r) => r.detail)
          : // An empty test table makes a sequential scan the cheapest plan; with it priced out, a plan
            // that still reads the whole table has no index to read through.
            await t.opened.db.transaction().execute(async (tx) => {
              await sql`SET LOCAL enable_seqscan = off`.execute(tx);
              return (await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${stmt}`.execute(tx)).rows.map((r) => r['QUERY PLAN']);
            });
      const text = plan.join('\n');
      expect(text, name).toContain(index);
      expect(text, name).not.toMatch(/\bSCAN (memberships|orders)\b|Seq Scan/);
      // Every read of the swept table goes by primary key or through the due-rows index, bounded by the due column.
      const reads = plan.filter((l) => /SEARCH (memberships|orders)\b|Index (Only )?Scan.* on (memberships|orders)\b/.test(l));
      for (const l of reads) expect(l, name).toMatch(new RegExp(`INTEGER PRIMARY KEY|sqlite_autoindex_orders_1 \\(id=\\?\\)|_pkey|${index}`));
      if (dialect === 'sqlite') for (const l of reads) if (l.includes(index)) expect(l, name).toMatch(/(expires_at|grace_until)<\?/);
    }
  });
});
