// Telegram adapter facts (migration 0004-telegram): the bot's standing in each bound group, join-request
// invite links per membership, the latest join request per person, the roster as chat_member updates tell
// it, and moving a group to its new id when it becomes a supergroup.
import type { Kysely, Selectable } from 'kysely';
import type {
  TelegramGroupState,
  TelegramIntruderState,
  TelegramInviteLink,
  TelegramJoinRequest,
  TelegramJoinRequestStatus,
  TelegramRepo,
  TelegramRosterEntry,
  TelegramRosterStatus,
} from '../../bots/telegram/store-port.ts';
import { toGroup } from './mappers.ts';
import type { Database, TelegramChatMembersTable, TelegramGroupsTable, TelegramInviteLinksTable, TelegramJoinRequestsTable } from './schema.ts';

const toState = (r: TelegramGroupsTable): TelegramGroupState => ({
  groupId: r.group_id,
  botStatus: r.bot_status,
  missingRights: r.missing_rights,
  updatedAt: r.updated_at,
});

const toLink = (r: Selectable<TelegramInviteLinksTable>): TelegramInviteLink => ({
  groupId: r.group_id,
  membershipId: r.membership_id,
  userId: r.user_id,
  inviteLink: r.invite_link,
  name: r.name,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  usedAt: r.used_at,
  revokedAt: r.revoked_at,
});

const toRequest = (r: TelegramJoinRequestsTable): TelegramJoinRequest => ({
  groupId: r.group_id,
  userId: r.user_id,
  userChatId: r.user_chat_id,
  inviteLink: r.invite_link,
  status: r.status as TelegramJoinRequestStatus,
  requestedAt: r.requested_at,
  decidedAt: r.decided_at,
  queryId: r.query_id,
  queryExpiresAt: r.query_expires_at === null ? null : Number(r.query_expires_at),
});

const toEntry = (r: TelegramChatMembersTable): TelegramRosterEntry => ({
  groupId: r.group_id,
  userId: r.user_id,
  displayName: r.display_name,
  isBot: r.is_bot === 1,
  status: r.status as TelegramRosterStatus,
  joinedAt: r.joined_at,
  intruderState: r.intruder_state as TelegramIntruderState | null,
  updatedAt: r.updated_at,
});

export function telegramRepo(db: Kysely<Database>): TelegramRepo {
  return {
    async getGroupState(groupId) {
      const r = await db.selectFrom('telegram_groups').selectAll().where('group_id', '=', groupId).executeTakeFirst();
      return r ? toState(r) : null;
    },

    async setGroupState(groupId, s, now) {
      const before = await db.selectFrom('telegram_groups').selectAll().where('group_id', '=', groupId).executeTakeFirst();
      await db
        .insertInto('telegram_groups')
        .values({ group_id: groupId, bot_status: s.botStatus, missing_rights: s.missingRights, updated_at: now })
        .onConflict((oc) => oc.column('group_id').doUpdateSet({ bot_status: s.botStatus, missing_rights: s.missingRights, updated_at: now }))
        .execute();
      return before ? toState(before) : null;
    },

    async migrateChat(oldChatId, newChatId) {
      const moved = await db
        .updateTable('groups')
        .set({ platform_chat_id: newChatId })
        .where('platform', '=', 'telegram')
        .where('platform_chat_id', '=', oldChatId)
        .returningAll()
        .executeTakeFirst();
      return moved ? toGroup(moved) : null;
    },

    async insertInviteLink(l) {
      await db
        .insertInto('telegram_invite_links')
        .values({
          group_id: l.groupId,
          membership_id: l.membershipId,
          user_id: l.userId,
          invite_link: l.inviteLink,
          name: l.name,
          expires_at: l.expiresAt,
          created_at: l.createdAt,
          used_at: null,
          revoked_at: null,
        })
        .onConflict((oc) => oc.column('invite_link').doNothing())
        .execute();
    },

    async openInviteLinks(groupId, userId) {
      const rows = await db
        .selectFrom('telegram_invite_links')
        .selectAll()
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .orderBy('created_at', 'desc')
        .limit(50)
        .execute();
      return rows.map(toLink);
    },

    async findInviteLink(inviteLink) {
      const r = await db.selectFrom('telegram_invite_links').selectAll().where('invite_link', '=', inviteLink).executeTakeFirst();
      return r ? toLink(r) : null;
    },

    async markInviteLinkUsed(inviteLink, now) {
      await db.updateTable('telegram_invite_links').set({ used_at: now }).where('invite_link', '=', inviteLink).where('used_at', 'is', null).execute();
    },

    async markInviteLinkRevoked(inviteLink, now) {
      await db.updateTable('telegram_invite_links').set({ revoked_at: now }).where('invite_link', '=', inviteLink).where('revoked_at', 'is', null).execute();
    },

    async saveJoinRequest(r) {
      const row = {
        user_chat_id: r.userChatId,
        invite_link: r.inviteLink,
        status: r.status,
        requested_at: r.requestedAt,
        decided_at: r.decidedAt,
        query_id: r.queryId ?? null,
        query_expires_at: r.queryExpiresAt ?? null,
      };
      await db
        .insertInto('telegram_join_requests')
        .values({ group_id: r.groupId, user_id: r.userId, ...row })
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doUpdateSet(row))
        .execute();
    },

    async getJoinRequest(groupId, userId) {
      const r = await db.selectFrom('telegram_join_requests').selectAll().where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
      return r ? toRequest(r) : null;
    },

    async decideJoinRequest(groupId, userId, from, to, now) {
      if (from.length === 0) return false;
      const r = await db
        .updateTable('telegram_join_requests')
        .set({ status: to, decided_at: now })
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .where('status', 'in', from)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async knowsPerson(groupId, userId) {
      // Each branch is a primary-key or (group_id, user_id) index lookup.
      const r = await db
        .selectFrom('telegram_chat_members')
        .select('user_id')
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .unionAll(db.selectFrom('telegram_join_requests').select('user_id').where('group_id', '=', groupId).where('user_id', '=', userId))
        .unionAll(db.selectFrom('telegram_invite_links').select('user_id').where('group_id', '=', groupId).where('user_id', '=', userId))
        .limit(1)
        .executeTakeFirst();
      return r !== undefined;
    },

    async getRosterEntry(groupId, userId) {
      const r = await db.selectFrom('telegram_chat_members').selectAll().where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
      return r ? toEntry(r) : null;
    },

    async upsertRosterEntry(e) {
      const row = {
        display_name: e.displayName,
        is_bot: e.isBot ? 1 : 0,
        status: e.status,
        joined_at: e.joinedAt,
        intruder_state: e.intruderState,
        updated_at: e.updatedAt,
      };
      await db
        .insertInto('telegram_chat_members')
        .values({ group_id: e.groupId, user_id: e.userId, ...row })
        .onConflict((oc) => oc.columns(['group_id', 'user_id']).doUpdateSet(row))
        .execute();
    },

    async listRoster(q) {
      let query = db.selectFrom('telegram_chat_members').selectAll().where('group_id', '=', q.groupId);
      if (q.status) query = query.where('status', '=', q.status);
      if (q.intruderStates) {
        if (q.intruderStates.length === 0) return [];
        query = query.where('intruder_state', 'in', q.intruderStates);
      }
      const rows = await query.orderBy('joined_at').orderBy('user_id').limit(q.limit).execute();
      return rows.map(toEntry);
    },

    async setIntruderState(groupId, userId, state, now) {
      await db
        .updateTable('telegram_chat_members')
        .set({ intruder_state: state, updated_at: now })
        .where('group_id', '=', groupId)
        .where('user_id', '=', userId)
        .execute();
    },
  };
}
