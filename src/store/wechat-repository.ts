// WeChat adapter facts (migration 0005-wechat): room bindings, adds waiting for room-join and the stable identity fields that survive a puppet re-login.
import type { Kysely } from 'kysely';
import type { WechatAddMode, WechatAddState, WechatIdentity, WechatPendingAdd, WechatRepo, WechatRoomBinding } from '../../bots/wechat/store-port.ts';
import type { Database, WechatIdentitiesTable, WechatPendingAddsTable, WechatRoomsTable } from './schema.ts';

const toBinding = (r: WechatRoomsTable): WechatRoomBinding => ({
  groupId: r.group_id,
  roomId: r.room_id,
  boundBy: r.bound_by,
  boundAt: r.bound_at,
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
        })
        .onConflict((oc) => oc.column('group_id').doUpdateSet({ room_id: b.roomId, bound_by: b.boundBy, bound_at: now }))
        .execute();
    },

    async getBinding(groupId) {
      const r = await db.selectFrom('wechat_rooms').selectAll().where('group_id', '=', groupId).executeTakeFirst();
      return r ? toBinding(r) : null;
    },

    async upsertPendingAdd(p) {
      // A new wait, or a fresh one for the same membership (counted in `attempts`).
      const wait = {
        group_id: p.groupId,
        account_id: p.accountId,
        contact_id: p.contactId,
        room_id: p.roomId,
        mode: p.mode,
        state: 'pending',
        requested_at: p.requestedAt,
        deadline_at: p.deadlineAt,
        resolved_at: null,
      } as const;
      await db
        .insertInto('wechat_pending_adds')
        .values({ membership_id: p.membershipId, ...wait, attempts: 1 })
        .onConflict((oc) => oc.column('membership_id').doUpdateSet((eb) => ({ ...wait, attempts: eb(eb.ref('wechat_pending_adds.attempts'), '+', 1) })))
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
      const listed = await db
        .selectFrom('group_whitelist')
        .innerJoin('groups', 'groups.id', 'group_whitelist.group_id')
        .select('group_whitelist.group_id')
        .where('groups.platform', '=', 'wechat')
        .where('group_whitelist.platform_user_id', '=', newContactId)
        .execute();
      const skip = listed.map((x) => x.group_id);
      const wechatGroups = db.selectFrom('groups').select('id').where('platform', '=', 'wechat');
      let q = db
        .updateTable('group_whitelist')
        .set({ platform_user_id: newContactId })
        .where('platform_user_id', '=', old)
        .where('group_id', 'in', wechatGroups);
      if (skip.length > 0) q = q.where('group_id', 'not in', skip);
      await q.execute();
      return old;
    },
  };
}
