// The owner console's sign-in links and sessions (migration 0022). Secrets arrive here already hashed;
// the rules (lifetimes, single use, idle expiry) live in src/app/console-auth.ts.
import type { Kysely } from 'kysely';
import type { Repos } from '../app/ports.ts';
import type { Database } from './schema.ts';

export function consoleRepo(db: Kysely<Database>): Repos['console'] {
  return {
    async insertLink(l, now) {
      await db
        .insertInto('console_login_links')
        .values({ token_hash: l.tokenHash, account_id: l.accountId, created_at: now, expires_at: l.expiresAt, used_at: null })
        .execute();
    },
    async getLink(tokenHash) {
      const r = await db.selectFrom('console_login_links').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return r
        ? {
            accountId: r.account_id === null ? null : Number(r.account_id),
            expiresAt: Number(r.expires_at),
            usedAt: r.used_at === null ? null : Number(r.used_at),
          }
        : null;
    },
    async useLink(tokenHash, now) {
      const r = await db
        .updateTable('console_login_links')
        .set({ used_at: now })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async insertSession(s, now) {
      await db
        .insertInto('console_sessions')
        .values({ token_hash: s.tokenHash, account_id: s.accountId, created_at: now, last_seen_at: now, ended_at: null })
        .execute();
    },
    async getSession(tokenHash) {
      const r = await db.selectFrom('console_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return r
        ? {
            accountId: r.account_id === null ? null : Number(r.account_id),
            createdAt: Number(r.created_at),
            lastSeenAt: Number(r.last_seen_at),
            endedAt: r.ended_at === null ? null : Number(r.ended_at),
          }
        : null;
    },
    async touchSession(tokenHash, now) {
      await db.updateTable('console_sessions').set({ last_seen_at: now }).where('token_hash', '=', tokenHash).where('ended_at', 'is', null).execute();
    },
    async endSession(tokenHash, now) {
      const r = await db
        .updateTable('console_sessions')
        .set({ ended_at: now })
        .where('token_hash', '=', tokenHash)
        .where('ended_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async endSessions(q, now) {
      let u = db.updateTable('console_sessions').set({ ended_at: now }).where('ended_at', 'is', null);
      if (q.accountId !== undefined) u = q.accountId === null ? u.where('account_id', 'is', null) : u.where('account_id', '=', q.accountId);
      const r = await u.executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
    async press(keyHash, now, forgetBefore) {
      await db.deleteFrom('console_presses').where('created_at', '<', forgetBefore).execute();
      const r = await db
        .insertInto('console_presses')
        .values({ key_hash: keyHash, created_at: now })
        .onConflict((oc) => oc.column('key_hash').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
    async unpress(keyHash) {
      await db.deleteFrom('console_presses').where('key_hash', '=', keyHash).execute();
    },
  };
}
