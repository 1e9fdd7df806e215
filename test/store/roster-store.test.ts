// The roster store (migration 0009-roster): one whitelist and one list of dry-run reports for every
// platform, and the migration that moved the Telegram and WeChat copies into them (and back down).
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.ts';
import { migrateDown, migrateToLatest } from '../../src/store/database.ts';
import { DIALECTS, openTestDb, type TestDb } from '../helpers/db.ts';

describe.each(DIALECTS)('roster store (%s)', (dialect) => {
  let t: TestDb;
  const now = Date.UTC(2026, 0, 1);
  beforeEach(async () => {
    t = await openTestDb(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  const group = (platform: 'telegram' | 'wechat', chatId: string) =>
    t.store.groups.insert({ platform, platformChatId: chatId, title: chatId, ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] }, now);

  it('whitelist: added once, listed, removed once', async () => {
    const g = await group('wechat', 'room@chatroom');
    const owner = await t.store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-owner' }, now);
    expect(await t.store.roster.addToWhitelist({ groupId: g.id, userId: 'wx-w', handle: 'walter', name: 'Walter', addedBy: owner.id }, now)).toBe(true);
    expect(await t.store.roster.addToWhitelist({ groupId: g.id, userId: 'wx-w', handle: 'walter', name: 'Walter', addedBy: owner.id }, now + 1)).toBe(false);
    expect(await t.store.roster.listWhitelist(g.id)).toEqual([
      { groupId: g.id, userId: 'wx-w', handle: 'walter', name: 'Walter', addedBy: owner.id, addedAt: now },
    ]);
    expect(await t.store.roster.removeFromWhitelist(g.id, 'wx-w')).toBe(true);
    expect(await t.store.roster.removeFromWhitelist(g.id, 'wx-w')).toBe(false);
    expect(await t.store.roster.listWhitelist(g.id)).toEqual([]);
  });

  it('reports: numbered in the order stored, the latest per group and per requester', async () => {
    const g = await group('telegram', '-100');
    const owner = await t.store.accounts.upsert({ platform: 'telegram', platformUserId: '1' }, now);
    const intruders = [
      { userId: '7', name: 'Eve', handle: null },
      { userId: '8', name: 'Mallory', handle: 'mal' },
    ];
    const mine = await t.store.roster.insertReport({ groupId: g.id, requestedBy: owner.id, intruders, fingerprint: 'f1' }, now);
    const audit = await t.store.roster.insertReport({ groupId: g.id, requestedBy: null, intruders: [], fingerprint: 'f2' }, now + 1);
    expect(await t.store.roster.getReport(mine.id)).toEqual(mine);
    expect(mine.intruders).toEqual(intruders);
    expect(await t.store.roster.latestReport(g.id)).toEqual(audit);
    expect(await t.store.roster.latestReport(g.id, { requestedBy: owner.id })).toEqual(mine);
    expect(await t.store.roster.latestReport(g.id + 1)).toBeNull();
    await t.store.roster.setIntruderPolicy(g.id, 'ignore');
    expect((await t.store.groups.get(g.id))!.intruderPolicy).toBe('ignore');
  });

  it('0009 moves both whitelists, the WeChat reports (same numbers) and the Telegram dry run, and back down', async () => {
    const later = Object.keys(migrations)
      .sort()
      .filter((k) => k >= '0009');
    expect(await migrateDown(t.opened, later.length)).toEqual([...later].reverse());
    const db = t.opened.db;
    const tg = await group('telegram', '-100');
    const wx = await group('wechat', 'room@chatroom');
    const wxUnconfirmed = await group('wechat', 'other@chatroom');
    const owner = await t.store.accounts.upsert({ platform: 'telegram', platformUserId: '1' }, now);
    await db.updateTable('groups').set({ intruder_policy: 'remove' }).where('id', 'in', [wx.id, wxUnconfirmed.id]).execute();
    await sql`insert into telegram_whitelist (group_id, user_id, added_by, created_at) values (${tg.id}, '12345', ${owner.id}, ${now})`.execute(db);
    await sql`insert into telegram_groups (group_id, bot_status, missing_rights, dry_run_at, dry_run_by, updated_at) values (${tg.id}, 'administrator', '', ${now + 5}, ${owner.id}, ${now})`.execute(
      db,
    );
    await sql`insert into wechat_whitelist (group_id, contact_id, handle, name, added_by, created_at) values (${wx.id}, 'wx-w', 'walter', 'Walter', null, ${now + 1})`.execute(
      db,
    );
    await sql`insert into wechat_audit_reports (id, group_id, intruders, fingerprint, created_at) values (41, ${wx.id}, ${JSON.stringify([{ contactId: 'wx-m', name: 'Mallory', handle: null }])}, 'fp', ${now + 2})`.execute(
      db,
    );
    await sql`insert into wechat_rooms (group_id, room_id, bound_by, bound_at, confirmed_report_id, confirmed_by, confirmed_at) values (${wx.id}, 'room@chatroom', null, ${now}, 41, ${owner.id}, ${now + 3})`.execute(
      db,
    );

    expect(await migrateToLatest(t.opened)).toEqual(later);
    expect(await t.store.roster.listWhitelist(tg.id)).toEqual([{ groupId: tg.id, userId: '12345', handle: null, name: null, addedBy: owner.id, addedAt: now }]);
    expect(await t.store.roster.listWhitelist(wx.id)).toEqual([
      { groupId: wx.id, userId: 'wx-w', handle: 'walter', name: 'Walter', addedBy: null, addedAt: now + 1 },
    ]);
    expect(await t.store.roster.getReport(41)).toEqual({
      id: 41,
      groupId: wx.id,
      requestedBy: null,
      intruders: [{ userId: 'wx-m', name: 'Mallory', handle: null }],
      fingerprint: 'fp',
      createdAt: now + 2,
    });
    expect(await t.store.roster.latestReport(tg.id, { requestedBy: owner.id })).toMatchObject({ createdAt: now + 5, intruders: [] });
    // A new report gets a number after the moved ones (PostgreSQL's sequence follows).
    expect((await t.store.roster.insertReport({ groupId: wx.id, requestedBy: null, intruders: [], fingerprint: 'x' }, now + 9)).id).toBeGreaterThan(41);
    // `remove` with a confirmed report stays; without one WeChat acted as `report`, and now says so.
    expect((await t.store.groups.get(wx.id))!.intruderPolicy).toBe('remove');
    expect((await t.store.groups.get(wxUnconfirmed.id))!.intruderPolicy).toBe('report');

    expect(await migrateDown(t.opened, later.length)).toEqual([...later].reverse());
    const back = await sql<{ user_id: string }>`select user_id from telegram_whitelist where group_id = ${tg.id}`.execute(db);
    expect(back.rows.map((r) => r.user_id)).toEqual(['12345']);
    const wxBack = await sql<{ contact_id: string; handle: string }>`select contact_id, handle from wechat_whitelist where group_id = ${wx.id}`.execute(db);
    expect(wxBack.rows).toEqual([{ contact_id: 'wx-w', handle: 'walter' }]);
    const reports = await sql<{ id: number; intruders: string }>`select id, intruders from wechat_audit_reports where group_id = ${wx.id} order by id`.execute(
      db,
    );
    expect(reports.rows[0]).toEqual({ id: 41, intruders: JSON.stringify([{ contactId: 'wx-m', name: 'Mallory', handle: null }]) });
    const room = await sql<{ confirmed_report_id: number | null }>`select confirmed_report_id from wechat_rooms where group_id = ${wx.id}`.execute(db);
    expect(room.rows[0]!.confirmed_report_id).toBe(reports.rows.at(-1)!.id);
    const dry = await sql<{ dry_run_by: number | null }>`select dry_run_by from telegram_groups where group_id = ${tg.id}`.execute(db);
    expect(dry.rows[0]!.dry_run_by).toBe(owner.id);
    expect(await migrateToLatest(t.opened)).toEqual(later);
  });
});
