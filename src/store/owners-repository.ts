// Owner claim codes (stored hashed: the code itself is shown once and never kept), the owner flag, and
// the groups each owner acts on (owner_scopes, plus the groups they bound in chat).
import type { Kysely } from 'kysely';
import type { Account } from '../app/model.ts';
import type { OwnerScope } from '../app/ports.ts';
import { toAccount } from './mappers.ts';
import type { Database } from './schema.ts';

export async function insertClaim(db: Kysely<Database>, codeHash: string, now: number, expiresAt: number, groupIds: number[] | null): Promise<void> {
  await db
    .insertInto('owner_claims')
    .values({
      code_hash: codeHash,
      created_at: now,
      expires_at: expiresAt,
      redeemed_at: null,
      redeemed_by: null,
      group_ids: groupIds === null ? null : JSON.stringify(groupIds),
    })
    .execute();
}

export async function getClaim(
  db: Kysely<Database>,
  codeHash: string,
): Promise<{ expiresAt: number; redeemedAt: number | null; groupIds: number[] | null } | null> {
  const r = await db.selectFrom('owner_claims').select(['expires_at', 'redeemed_at', 'group_ids']).where('code_hash', '=', codeHash).executeTakeFirst();
  return r ? { expiresAt: r.expires_at, redeemedAt: r.redeemed_at, groupIds: r.group_ids === null ? null : (JSON.parse(r.group_ids) as number[]) } : null;
}

/** Conditional: only an unredeemed, unexpired code is taken; true when this call took it. */
export async function redeemClaim(db: Kysely<Database>, codeHash: string, accountId: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('owner_claims')
    .set({ redeemed_at: now, redeemed_by: accountId })
    .where('code_hash', '=', codeHash)
    .where('redeemed_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function setOwner(db: Kysely<Database>, accountId: number): Promise<void> {
  await db.updateTable('accounts').set({ is_owner: 1 }).where('id', '=', accountId).execute();
}

export async function listOwners(db: Kysely<Database>): Promise<Account[]> {
  return (await db.selectFrom('accounts').selectAll().where('is_owner', '=', 1).orderBy('id').execute()).map(toAccount);
}

/** Adds groups (or every group: null) to an owner's scope; a group already in it is left as it is. */
export async function grantScope(db: Kysely<Database>, accountId: number, groupIds: number[] | null, source: string, now: number): Promise<void> {
  const rows = (groupIds === null ? [null] : [...new Set(groupIds)]).map((groupId) => ({ account_id: accountId, group_id: groupId, source, created_at: now }));
  if (rows.length === 0) return;
  await db
    .insertInto('owner_scopes')
    .values(rows)
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** Every group (an operator), or the groups granted by claims and those the owner bound in chat. */
export async function getScope(db: Kysely<Database>, accountId: number): Promise<OwnerScope> {
  const granted = await db.selectFrom('owner_scopes').select('group_id').where('account_id', '=', accountId).execute();
  if (granted.some((r) => r.group_id === null)) return { all: true, groupIds: [] };
  const bound = await db.selectFrom('groups').select('id').where('owner_account_id', '=', accountId).execute();
  const ids = new Set([...granted.map((r) => r.group_id!), ...bound.map((r) => r.id)]);
  return { all: false, groupIds: [...ids].sort((a, b) => a - b) };
}
