// Owner claim codes (stored hashed: the code itself is shown once and never kept) and the owner flag.
import type { Kysely } from 'kysely';
import type { Account } from '../app/model.ts';
import { toAccount } from './mappers.ts';
import type { Database } from './schema.ts';

export async function insertClaim(db: Kysely<Database>, codeHash: string, now: number, expiresAt: number): Promise<void> {
  await db.insertInto('owner_claims').values({ code_hash: codeHash, created_at: now, expires_at: expiresAt, redeemed_at: null, redeemed_by: null }).execute();
}

export async function getClaim(db: Kysely<Database>, codeHash: string): Promise<{ expiresAt: number; redeemedAt: number | null } | null> {
  const r = await db.selectFrom('owner_claims').select(['expires_at', 'redeemed_at']).where('code_hash', '=', codeHash).executeTakeFirst();
  return r ? { expiresAt: r.expires_at, redeemedAt: r.redeemed_at } : null;
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
