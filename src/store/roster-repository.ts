// The roster store (migration 0009-roster): the whitelist and the dry-run intruder reports of every
// group, whatever its platform. The rules over them live in src/app/roster.ts.
import type { Kysely, Selectable } from 'kysely';
import type { IntruderPolicy } from '../app/model.ts';
import type { ReportedIntruder, Repos, RosterReport, WhitelistEntry } from '../app/ports.ts';
import type { Database, GroupWhitelistTable, RosterReportsTable } from './schema.ts';

function parseIntruders(json: string): ReportedIntruder[] {
  try {
    const v = JSON.parse(json) as unknown;
    if (!Array.isArray(v)) return [];
    return v
      .filter((x): x is ReportedIntruder => typeof x === 'object' && x !== null && typeof (x as ReportedIntruder).userId === 'string')
      .map((x) => ({ userId: x.userId, name: typeof x.name === 'string' ? x.name : '', handle: typeof x.handle === 'string' ? x.handle : null }));
  } catch {
    return [];
  }
}

const toReport = (r: Selectable<RosterReportsTable>): RosterReport => ({
  id: Number(r.id),
  groupId: r.group_id,
  requestedBy: r.requested_by,
  intruders: parseIntruders(r.intruders),
  fingerprint: r.fingerprint,
  createdAt: Number(r.created_at),
});

const toEntry = (r: GroupWhitelistTable): WhitelistEntry => ({
  groupId: r.group_id,
  userId: r.platform_user_id,
  handle: r.handle,
  name: r.name,
  addedBy: r.added_by,
  addedAt: Number(r.added_at),
});

export function rosterRepo(db: Kysely<Database>): Repos['roster'] {
  return {
    async addToWhitelist(e, now) {
      const r = await db
        .insertInto('group_whitelist')
        .values({ group_id: e.groupId, platform_user_id: e.userId, handle: e.handle, name: e.name, added_by: e.addedBy, added_at: now })
        .onConflict((oc) => oc.columns(['group_id', 'platform_user_id']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    async removeFromWhitelist(groupId, userId) {
      const r = await db.deleteFrom('group_whitelist').where('group_id', '=', groupId).where('platform_user_id', '=', userId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },

    async listWhitelist(groupId) {
      const rows = await db.selectFrom('group_whitelist').selectAll().where('group_id', '=', groupId).orderBy('added_at').orderBy('platform_user_id').execute();
      return rows.map(toEntry);
    },

    async setIntruderPolicy(groupId, policy: IntruderPolicy) {
      await db.updateTable('groups').set({ intruder_policy: policy }).where('id', '=', groupId).execute();
    },

    async insertReport(r, now) {
      const row = await db
        .insertInto('roster_reports')
        .values({ group_id: r.groupId, requested_by: r.requestedBy, intruders: JSON.stringify(r.intruders), fingerprint: r.fingerprint, created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: Number(row.id), groupId: r.groupId, requestedBy: r.requestedBy, intruders: r.intruders, fingerprint: r.fingerprint, createdAt: now };
    },

    async latestReport(groupId, opts = {}) {
      let q = db.selectFrom('roster_reports').selectAll().where('group_id', '=', groupId);
      if (opts.requestedBy !== undefined) q = q.where('requested_by', '=', opts.requestedBy);
      const r = await q.orderBy('id', 'desc').limit(1).executeTakeFirst();
      return r ? toReport(r) : null;
    },

    async getReport(id) {
      const r = await db.selectFrom('roster_reports').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toReport(r) : null;
    },
  };
}
