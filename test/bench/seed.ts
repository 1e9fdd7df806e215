// Fast bulk seeding for the benchmark: set-based SQL on both dialects, so setting up 1M memberships
// takes seconds, not the benchmark's whole budget.
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/store/schema.ts';

export async function seedCatalogue(db: Kysely<Database>, now: number, groups = 1, platform = 'telegram') {
  const groupIds: number[] = [];
  for (let g = 0; g < groups; g++) {
    const r = await db
      .insertInto('groups')
      .values({ platform, platform_chat_id: `-100${g}`, title: `Bench ${g}`, owner_account_id: null, grace_ms: 0, default_locale: null, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    groupIds.push(r.id);
  }
  const plan = await db
    .insertInto('plans')
    .values({ name: 'Bench', price_minor: 990, currency: 'CNY', duration_days: 30, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('plan_groups').values({ plan_id: plan.id, group_id: groupIds[0]! }).execute();
  return { groupIds, planId: plan.id };
}

/** `n` accounts with platform ids `u0…u(n-1)`. */
export async function seedAccounts(db: Kysely<Database>, n: number, now: number, platform = 'telegram'): Promise<void> {
  for (let i = 0; i < n; i += 5000) {
    const rows = Array.from({ length: Math.min(5000, n - i) }, (_, k) => ({
      platform,
      platform_user_id: `u${i + k}`,
      display_name: null,
      locale: null,
      referred_by: null,
      created_at: now,
    }));
    await db.insertInto('accounts').values(rows).execute();
  }
}

/**
 * `n` pending orders through `provider`, one per account (the first `n` accounts, or the given account
 * ids), returned as out_trade_no list in account order.
 */
export async function seedPendingOrders(
  db: Kysely<Database>,
  n: number,
  planId: number,
  now: number,
  opts: { provider?: string; accountIds?: number[] } = {},
): Promise<string[]> {
  const accounts = opts.accountIds
    ? opts.accountIds.slice(0, n).map((id) => ({ id }))
    : await db.selectFrom('accounts').select('id').orderBy('id').limit(n).execute();
  const provider = opts.provider ?? 'dev';
  const outTradeNos: string[] = [];
  for (let i = 0; i < accounts.length; i += 2000) {
    const rows = accounts.slice(i, i + 2000).map((a) => {
      const no = randomBytes(16).toString('hex');
      outTradeNos.push(no);
      return {
        id: randomBytes(16).toString('base64url'),
        out_trade_no: no,
        account_id: a.id,
        plan_id: planId,
        amount_minor: 990,
        currency: 'CNY',
        provider,
        status: 'pending',
        created_at: now,
        updated_at: now,
        expires_at: now + 3_600_000,
        paid_at: null,
        provider_txn_id: null,
        review_reason: null,
        checkout_qr: null,
        checkout_url: null,
      };
    });
    await db.insertInto('orders').values(rows).execute();
  }
  return outTradeNos;
}

/** One bound Telegram group (the emulator's chat id) with one 30-day plan for it. */
export async function seedTelegramGroup(db: Kysely<Database>, chatId: number, title: string, now: number): Promise<{ groupId: number; planId: number }> {
  const g = await db
    .insertInto('groups')
    .values({ platform: 'telegram', platform_chat_id: String(chatId), title, owner_account_id: null, grace_ms: 0, default_locale: null, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  const plan = await db
    .insertInto('plans')
    .values({ name: 'Monthly', price_minor: 990, currency: 'CNY', duration_days: 30, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('plan_groups').values({ plan_id: plan.id, group_id: g.id }).execute();
  return { groupId: g.id, planId: plan.id };
}

/** Telegram accounts for these Telegram user ids; returns the account ids in the same order. */
export async function seedTelegramAccounts(db: Kysely<Database>, userIds: number[], now: number): Promise<number[]> {
  const byUser = new Map<string, number>();
  for (let i = 0; i < userIds.length; i += 2000) {
    const chunk = userIds.slice(i, i + 2000).map(String);
    await db
      .insertInto('accounts')
      .values(chunk.map((u) => ({ platform: 'telegram', platform_user_id: u, display_name: null, locale: 'en', referred_by: null, created_at: now })))
      .execute();
    // RETURNING order is not promised for multi-row inserts: read the ids back by user id.
    const r = await db
      .selectFrom('accounts')
      .select(['id', 'platform_user_id'])
      .where('platform', '=', 'telegram')
      .where('platform_user_id', 'in', chunk)
      .execute();
    for (const a of r) byUser.set(a.platform_user_id, a.id);
  }
  return userIds.map((u) => byUser.get(String(u))!);
}

/** Active memberships in `groupId` expiring at `expiresAt` (in the past: the next sweep expires them, with the group's grace 0). */
export async function seedTelegramMemberships(db: Kysely<Database>, accountIds: number[], groupId: number, expiresAt: number, now: number): Promise<void> {
  for (let i = 0; i < accountIds.length; i += 2000) {
    const rows = accountIds.slice(i, i + 2000).map((a) => ({
      account_id: a,
      group_id: groupId,
      status: 'active',
      expires_at: expiresAt,
      grace_until: null,
      created_at: now - 31 * 86_400_000,
      updated_at: now - 31 * 86_400_000,
    }));
    await db.insertInto('memberships').values(rows).execute();
  }
}

/**
 * `total` active memberships spread over accounts × groups (unique pairs), of which `due` expired an
 * hour ago and the rest expire in 30 days.
 */
export async function seedMemberships(db: Kysely<Database>, total: number, due: number, groupIds: number[], now: number): Promise<void> {
  const accounts = Math.ceil(total / groupIds.length);
  const past = now - 3_600_000;
  const future = now + 30 * 86_400_000;
  await sql`
    INSERT INTO memberships (account_id, group_id, status, expires_at, grace_until, created_at, updated_at)
    SELECT a.id, g.id, 'active', ${future}, NULL, ${now}, ${now}
      FROM (SELECT id FROM accounts ORDER BY id LIMIT ${accounts}) a CROSS JOIN (SELECT id FROM groups) g
     LIMIT ${total}`.execute(db);
  // The due ones are scattered at random, as real expiries are.
  await sql`UPDATE memberships SET expires_at = ${past} WHERE id IN (SELECT id FROM memberships ORDER BY random() LIMIT ${due})`.execute(db);
  await sql`ANALYZE`.execute(db);
}
