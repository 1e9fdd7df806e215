import type { Kysely } from 'kysely';
import type { Group, Platform } from '../app/model.ts';
import type { ReviewSettingsPatch } from '../app/ports.ts';
import { toGroup } from './mappers.ts';
import type { Database } from './schema.ts';

export async function insertGroup(
  db: Kysely<Database>,
  g: { platform: Platform; platformChatId: string; title: string; ownerAccountId: number | null; graceMs: number; reminderOffsetsMs: number[] },
  now: number,
): Promise<Group> {
  const r = await db
    .insertInto('groups')
    .values({
      platform: g.platform,
      platform_chat_id: g.platformChatId,
      title: g.title,
      owner_account_id: g.ownerAccountId,
      grace_ms: g.graceMs,
      reminder_offsets: JSON.stringify(g.reminderOffsetsMs),
      default_locale: null,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toGroup(r);
}

export async function getGroup(db: Kysely<Database>, id: number): Promise<Group | null> {
  const r = await db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toGroup(r) : null;
}

export async function findGroupByChat(db: Kysely<Database>, platform: Platform, chatId: string): Promise<Group | null> {
  const r = await db.selectFrom('groups').selectAll().where('platform', '=', platform).where('platform_chat_id', '=', chatId).executeTakeFirst();
  return r ? toGroup(r) : null;
}

export async function listGroups(db: Kysely<Database>): Promise<Group[]> {
  const rows = await db.selectFrom('groups').selectAll().orderBy('id').execute();
  return rows.map(toGroup);
}

export async function setGroupReviewSettings(db: Kysely<Database>, id: number, p: ReviewSettingsPatch): Promise<void> {
  const set: Partial<{
    join_mode: string;
    review_window_hours: number | null;
    review_timeout_action: string;
    auto_approve_when_rules_pass: number;
    require_username: number;
  }> = {};
  if (p.joinMode !== undefined) set.join_mode = p.joinMode;
  if (p.reviewWindowHours !== undefined) set.review_window_hours = p.reviewWindowHours;
  if (p.reviewTimeoutAction !== undefined) set.review_timeout_action = p.reviewTimeoutAction;
  if (p.autoApproveWhenRulesPass !== undefined) set.auto_approve_when_rules_pass = p.autoApproveWhenRulesPass ? 1 : 0;
  if (p.requireUsername !== undefined) set.require_username = p.requireUsername ? 1 : 0;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('groups').set(set).where('id', '=', id).execute();
}
