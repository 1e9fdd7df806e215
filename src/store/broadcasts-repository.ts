// Owners' broadcasts (migration 0024) and their progress: each broadcast's notify jobs carry its id in
// jobs.broadcast_id, so its progress is those jobs counted by status through the partial index on
// (broadcast_id, status). Which members get a broadcast, and what the counts mean, is src/app/broadcast.ts.
import type { Kysely } from 'kysely';
import type { JobStatus } from '../app/model.ts';
import type { Broadcast, Repos } from '../app/ports.ts';
import type { Database } from './schema.ts';

type Row = { id: number; group_id: number; actor: string; text_length: number; recipients: number; created_at: number | string };

const toBroadcast = (r: Row): Broadcast => ({
  id: Number(r.id),
  groupId: Number(r.group_id),
  actor: r.actor,
  textLength: Number(r.text_length),
  recipients: Number(r.recipients),
  createdAt: Number(r.created_at),
});

/** The broadcasts' jobs counted by status (exported so the store test can check it reads the partial index). */
export function jobCountsQuery(db: Kysely<Database>, ids: number[]) {
  return db
    .selectFrom('jobs')
    .select(['broadcast_id', 'status'])
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('broadcast_id', 'in', ids)
    .groupBy(['broadcast_id', 'status']);
}

export function broadcastsRepo(db: Kysely<Database>): Repos['broadcasts'] {
  return {
    async insert(b, now) {
      const r = await db
        .insertInto('broadcasts')
        .values({ group_id: b.groupId, actor: b.actor, text_length: b.textLength, recipients: b.recipients, created_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toBroadcast(r);
    },
    async get(id) {
      const r = await db.selectFrom('broadcasts').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toBroadcast(r) : null;
    },
    async listRecent(q) {
      if (q.groupIds && q.groupIds.length === 0) return [];
      let s = db.selectFrom('broadcasts').selectAll().orderBy('id', 'desc').limit(q.limit);
      if (q.groupIds) s = s.where('group_id', 'in', q.groupIds);
      return (await s.execute()).map(toBroadcast);
    },
    async jobCounts(ids) {
      if (ids.length === 0) return [];
      const rows = await jobCountsQuery(db, ids).execute();
      return rows.map((r) => ({ broadcastId: Number(r.broadcast_id), status: r.status as JobStatus, count: Number(r.n) }));
    },
    async recipients(groupId, statuses) {
      if (statuses.length === 0) return [];
      const rows = await db
        .selectFrom('memberships as m')
        .innerJoin('accounts as a', 'a.id', 'm.account_id')
        .select(['m.id', 'm.account_id', 'a.locale'])
        .where('m.group_id', '=', groupId)
        .where('m.status', 'in', [...statuses])
        .orderBy('m.id')
        .execute();
      return rows.map((r) => ({ membershipId: Number(r.id), accountId: Number(r.account_id), locale: r.locale }));
    },
    async recipientCounts(groupIds, statuses) {
      if (groupIds.length === 0 || statuses.length === 0) return [];
      const rows = await db
        .selectFrom('memberships')
        .select('group_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('group_id', 'in', groupIds)
        .where('status', 'in', [...statuses])
        .groupBy('group_id')
        .execute();
      return rows.map((r) => ({ groupId: Number(r.group_id), count: Number(r.n) }));
    },
  };
}
