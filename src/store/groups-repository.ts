import type { Kysely } from 'kysely';
import type { Group, Platform } from '../app/model.ts';
import type { GroupSettingsPatch } from '../app/ports.ts';
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

/** Writes the settings given (the others stay); null when there is no such group. */
export async function updateGroupSettings(db: Kysely<Database>, id: number, p: GroupSettingsPatch): Promise<Group | null> {
  const set = {
    ...(p.graceMs !== undefined ? { grace_ms: p.graceMs } : {}),
    ...(p.reminderOffsetsMs !== undefined ? { reminder_offsets: JSON.stringify(p.reminderOffsetsMs) } : {}),
    ...(p.intruderPolicy !== undefined ? { intruder_policy: p.intruderPolicy } : {}),
    ...(p.refundWindowHours !== undefined ? { refund_window_hours: p.refundWindowHours } : {}),
    ...(p.joinMode !== undefined ? { join_mode: p.joinMode } : {}),
    ...(p.reviewWindowHours !== undefined ? { review_window_hours: p.reviewWindowHours } : {}),
    ...(p.reviewTimeoutAction !== undefined ? { review_timeout_action: p.reviewTimeoutAction } : {}),
    ...(p.autoApproveWhenRulesPass !== undefined ? { auto_approve_when_rules_pass: p.autoApproveWhenRulesPass ? 1 : 0 } : {}),
    ...(p.requireUsername !== undefined ? { require_username: p.requireUsername ? 1 : 0 } : {}),
    ...(p.referralRewardDays !== undefined ? { referral_reward_days: p.referralRewardDays } : {}),
    ...(p.winbackDays !== undefined ? { winback_days: p.winbackDays } : {}),
    ...(p.winbackPercent !== undefined ? { winback_percent: p.winbackPercent } : {}),
  };
  if (Object.keys(set).length > 0) await db.updateTable('groups').set(set).where('id', '=', id).execute();
  return getGroup(db, id);
}
