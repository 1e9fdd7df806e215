import type { Kysely } from 'kysely';
import type { Account, Platform } from '../app/model.ts';
import { toAccount } from './mappers.ts';
import type { Database } from './schema.ts';

export async function findAccount(db: Kysely<Database>, platform: Platform, platformUserId: string): Promise<Account | null> {
  const r = await db.selectFrom('accounts').selectAll().where('platform', '=', platform).where('platform_user_id', '=', platformUserId).executeTakeFirst();
  return r ? toAccount(r) : null;
}

export async function getAccount(db: Kysely<Database>, id: number): Promise<Account | null> {
  const r = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toAccount(r) : null;
}

export async function upsertAccount(
  db: Kysely<Database>,
  a: { platform: Platform; platformUserId: string; displayName?: string | null; locale?: string | null; username?: string | null },
  now: number,
): Promise<Account> {
  await db
    .insertInto('accounts')
    .values({
      platform: a.platform,
      platform_user_id: a.platformUserId,
      display_name: a.displayName ?? null,
      locale: a.locale ?? null,
      referred_by: null,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['platform', 'platform_user_id']).doNothing())
    .execute();
  const patch: { display_name?: string; locale?: string; username?: string | null } = {};
  if (a.displayName) patch.display_name = a.displayName;
  if (a.locale) patch.locale = a.locale;
  // Told on every message (Telegram): a username removed on the platform is removed here too.
  if (a.username !== undefined) patch.username = a.username;
  if (Object.keys(patch).length > 0) {
    await db.updateTable('accounts').set(patch).where('platform', '=', a.platform).where('platform_user_id', '=', a.platformUserId).execute();
  }
  const found = await findAccount(db, a.platform, a.platformUserId);
  if (!found) throw new Error('account upsert lost its row');
  return found;
}

export async function getDialogue(db: Kysely<Database>, accountId: number): Promise<unknown> {
  const r = await db.selectFrom('dialogue_state').select('state').where('account_id', '=', accountId).executeTakeFirst();
  return r ? (JSON.parse(r.state) as unknown) : null;
}

export async function setDialogue(db: Kysely<Database>, accountId: number, state: unknown, now: number): Promise<void> {
  const json = JSON.stringify(state);
  await db
    .insertInto('dialogue_state')
    .values({ account_id: accountId, state: json, updated_at: now })
    .onConflict((oc) => oc.column('account_id').doUpdateSet({ state: json, updated_at: now }))
    .execute();
}
