// WeChat adapter facts (migration 0005-wechat): room bindings, adds waiting for room-join, the
// whitelist, dry-run intruder reports and the stable identity fields that survive a puppet re-login.
import type { Kysely, Selectable } from 'kysely';
import type {
  WechatAddMode,
  WechatAddState,
  WechatAuditReport,
  WechatIdentity,
  WechatIntruder,
  WechatPendingAdd,
  WechatRepo,
  WechatRoomBinding,
  WechatWhitelistEntry,
} from '../../bots/wechat/store-port.ts';
import type { IntruderPolicy } from '../app/model.ts';
import type { Database, WechatAuditReportsTable, WechatIdentitiesTable, WechatPendingAddsTable, WechatRoomsTable } from './schema.ts';

const toBinding = (r: WechatRoomsTable): WechatRoomBinding => ({
  groupId: r.group_id,
  roomId: r.room_id,
  boundBy: r.bound_by,
  boundAt: r.bound_at,
  confirmedReportId: r.confirmed_report_id,
  confirmedBy: r.confirmed_by,
  confirmedAt: r.confirmed_at,
});

const toPending = (r: WechatPendingAddsTable): WechatPendingAdd => ({
  membershipId: r.membership_id,
  groupId: r.group_id,
  accountId: r.account_id,
  contactId: r.contact_id,
  roomId: r.room_id,
  mode: r.mode as WechatAddMode,
  state: r.state as WechatAddState,
  requestedAt: r.requested_at,
  deadlineAt: r.deadline_at,
  resolvedAt: r.resolved_at,
  attempts: r.attempts,
});

function parseIntruders(json: string): WechatIntruder[] {
  try {
    const v = JSON.parse(json) as unknown;
    if (!Array.isArray(v)) return [];
    return v
      .filter((x): x is WechatIntruder => typeof x === 'object' && x !== null && typeof (x as WechatIntruder).contactId === 'string')
      .map((x) => ({ contactId: x.contactId, name: typeof x.name === 'string' ? x.name : '', handle: typeof x.handle === 'string' ? x.handle : null }));
  } catch {
    return [];
  }
}

const toReport = (r: Selectable<WechatAuditReportsTable>): WechatAuditReport => ({
  id: r.id,
  groupId: r.group_id,
  intruders: parseIntruders(r.intruders),
  fingerprint: r.fingerprint,
  createdAt: r.created_at,
});

const toIdentity = (r: WechatIdentitiesTable): WechatIdentity => ({
  accountId: r.account_id,
  handle: r.handle,
  aliasTag: r.alias_tag,
  name: r.name,
  updatedAt: r.updated_at,
});

export function wechatRepo(db: Kysely<Database>): WechatRepo {
  return {
    async bindRoom(b, now) {
      await db
        .insertInto('wechat_rooms')
        .values({
          group_id: b.groupId,
          room_id: b.roomId,
          bound_by: b.boundBy,
          bound_at: now,
          confirmed_report_id: null,
          confirmed_by: null,
          confirmed_at: null,
        })
        .onConflict((oc) => oc.column('group_id').doUpdateSet({ room_id: b.roomId, bound_by: b.boundBy, bound_at: now }))
        .execute();
    },

    async getBinding(groupId) {
      const r = await db.selectFrom('wechat_rooms').selectAll().where('group_id', '=', groupId).executeTakeFirst();
      return r ? toBinding(r) : null;
    },

    async setIntruderPolicy(groupId: number, policy: IntruderPolicy, confirm, now) {
      const g = await db.selectFrom('groups').select('platform_chat_id').where('id', '=', groupId).executeTakeFirst();
      if (!g) return;
      await db.updateTable('groups').set({ intruder_policy: policy }).where('id', '=', groupId).execute();
      const facts =
        confirm && policy === 'remove'
          ? { confirmed_report_id: confirm.reportId, confirmed_by: confirm.by, confirmed_at: now }
          : { confirmed_report_id: null, confirmed_by: null, confirmed_at: null };
      // A room registered through the admin API (never bound with /bind) gets its row here.
      await db
        .insertInto('wechat_rooms')
        .values({ group_id: groupId, room_id: g.platform_chat_id, bound_by: null, bound_at: now, ...facts })
        .onConflict((oc) => oc.column('group_id').doUpdateSet(facts))
        .execute();
    },

    async upsertPendingAdd(p) {
      await db
        .insertInto('wechat_pending_adds')
        .values({
          membership_id: p.membershipId,
          group_id: p.groupId,
          account_id: p.accountId,
          contact_id: p.contactId,
          room_id: p.roomId,
          mode: p.mode,
          state: 'pending',
          requested_at: p.requestedAt,
          deadline_at: p.deadlineAt,
          resolved_at: null,
          attempts: 1,
        })
        .onConflict((oc) =>
          oc.column('membership_id').doUpdateSet((eb) => ({
            group_id: p.groupId,
            account_id: p.accountId,
            contact_id: p.contactId,
            room_id: p.roomId,
            mode: p.mode,
            state: 'pending',
            requested_at: p.requestedAt,
            deadline_at: p.deadlineAt,
            resolved_at: null,
            attempts: eb(eb.ref('wechat_pending_adds.attempts'), '+', 1),
          })),
        )
        .execute();
    },

    async getPendingAdd(membershipId) {
      const r = await db.selectFrom('wechat_pending_adds').selectAll().where('membership_id', '=', membershipId).executeTakeFirst();
      return r ? toPending(r) : null;
    },

    async resolvePendingAdd(membershipId, from, to, now) {
      if (from.length === 0) return false;
      const r = await db
        .updateTable('wechat_pending_adds')
        .set({ state: to, resolved_at: now })
        .where('membership_id', '=', membershipId)
        .where('state', 'in', from)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async pendingAddsDue(now, limit) {
      const rows = await db
        .selectFrom('wechat_pending_adds')
        .selectAll()
        .where('state', '=', 'pending')
        .where('deadline_at', '<=', now)
        .orderBy('deadline_at')
        .orderBy('membership_id')
        .limit(limit)
        .execute();
      return rows.map(toPending);
    },

    async addToWhitelist(e, now) {
      const r = await db
        .insertInto('wechat_whitelist')
        .values({ group_id: e.groupId, contact_id: e.contactId, handle: e.handle, name: e.name, added_by: e.addedBy, created_at: now })
        .onConflict((oc) => oc.columns(['group_id', 'contact_id']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    async listWhitelist(groupId): Promise<WechatWhitelistEntry[]> {
      const rows = await db
        .selectFrom('wechat_whitelist')
        .select(['group_id', 'contact_id', 'handle', 'name'])
        .where('group_id', '=', groupId)
        .orderBy('id')
        .execute();
      return rows.map((r) => ({ groupId: r.group_id, contactId: r.contact_id, handle: r.handle, name: r.name }));
    },

    async insertAuditReport(r, now) {
      const row = await db
        .insertInto('wechat_audit_reports')
        .values({ group_id: r.groupId, intruders: JSON.stringify(r.intruders), fingerprint: r.fingerprint, created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { id: Number(row.id), groupId: r.groupId, intruders: r.intruders, fingerprint: r.fingerprint, createdAt: now };
    },

    async latestAuditReport(groupId) {
      const r = await db.selectFrom('wechat_audit_reports').selectAll().where('group_id', '=', groupId).orderBy('id', 'desc').limit(1).executeTakeFirst();
      return r ? toReport(r) : null;
    },

    async getAuditReport(id) {
      const r = await db.selectFrom('wechat_audit_reports').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toReport(r) : null;
    },

    async getIdentity(accountId) {
      const r = await db.selectFrom('wechat_identities').selectAll().where('account_id', '=', accountId).executeTakeFirst();
      return r ? toIdentity(r) : null;
    },

    async findIdentityByHandle(handle) {
      const r = await db
        .selectFrom('wechat_identities')
        .innerJoin('accounts', 'accounts.id', 'wechat_identities.account_id')
        .selectAll('wechat_identities')
        .where('wechat_identities.handle', '=', handle)
        .where('accounts.platform', '=', 'wechat')
        .orderBy('wechat_identities.account_id')
        .limit(1)
        .executeTakeFirst();
      return r ? toIdentity(r) : null;
    },

    async upsertIdentity(i, now) {
      await db
        .insertInto('wechat_identities')
        .values({ account_id: i.accountId, handle: i.handle, alias_tag: i.aliasTag, name: i.name, updated_at: now })
        .onConflict((oc) =>
          oc.column('account_id').doUpdateSet((eb) => ({
            // A field the puppet does not offer this time keeps what we knew.
            handle: eb.fn.coalesce(eb.val(i.handle), eb.ref('wechat_identities.handle')),
            alias_tag: eb.fn.coalesce(eb.val(i.aliasTag), eb.ref('wechat_identities.alias_tag')),
            name: eb.fn.coalesce(eb.val(i.name), eb.ref('wechat_identities.name')),
            updated_at: now,
          })),
        )
        .execute();
    },

    async repointAccount(accountId, newContactId) {
      const acc = await db.selectFrom('accounts').select(['platform', 'platform_user_id']).where('id', '=', accountId).executeTakeFirst();
      if (!acc || acc.platform !== 'wechat' || acc.platform_user_id === newContactId) return null;
      const old = acc.platform_user_id;
      const r = await db
        .updateTable('accounts')
        .set({ platform_user_id: newContactId })
        .where('id', '=', accountId)
        .where('platform_user_id', '=', old)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return null;
      await db.updateTable('wechat_pending_adds').set({ contact_id: newContactId }).where('account_id', '=', accountId).execute();
      // Whitelist rows keyed by the old id follow the person (unless the new id is already listed there).
      const listed = await db.selectFrom('wechat_whitelist').select('group_id').where('contact_id', '=', newContactId).execute();
      const skip = listed.map((x) => x.group_id);
      let q = db.updateTable('wechat_whitelist').set({ contact_id: newContactId }).where('contact_id', '=', old);
      if (skip.length > 0) q = q.where('group_id', 'not in', skip);
      await q.execute();
      return old;
    },
  };
}
