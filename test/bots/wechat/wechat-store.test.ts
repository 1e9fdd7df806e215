// The WeChat adapter's store methods (migration 0005-wechat) on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, openTestDb, type TestDb } from '../../helpers/db.ts';

describe.each(DIALECTS)('WeChat store (%s)', (dialect) => {
  let t: TestDb;
  const now = Date.UTC(2026, 0, 1);
  beforeEach(async () => {
    t = await openTestDb(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  async function basics() {
    const s = t.store;
    const owner = await s.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-owner', displayName: 'Olivia' }, now);
    const member = await s.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-alice', displayName: 'Alice' }, now);
    const group = await s.groups.insert(
      { platform: 'wechat', platformChatId: 'room-1@chatroom', title: 'Club', ownerAccountId: owner.id, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    const m = await s.memberships.insert({ accountId: member.id, groupId: group.id, status: 'active', expiresAt: now + 1000 }, now);
    return { owner, member, group, m };
  }

  it('pending adds: restart counts attempts, resolve is conditional, due ones are listed', async () => {
    const { member, group, m } = await basics();
    const w = t.store.wechat;
    const base = {
      membershipId: m.id,
      groupId: group.id,
      accountId: member.id,
      contactId: 'wx-alice',
      roomId: 'room-1@chatroom',
      mode: 'direct' as const,
      requestedAt: now,
      deadlineAt: now + 600_000,
    };
    await w.upsertPendingAdd(base);
    expect(await w.getPendingAdd(m.id)).toEqual({ ...base, state: 'pending', resolvedAt: null, attempts: 1 });
    expect(await w.pendingAddsDue(now + 599_999, 10)).toEqual([]);
    expect((await w.pendingAddsDue(now + 600_000, 10)).map((p) => p.membershipId)).toEqual([m.id]);
    expect(await w.resolvePendingAdd(m.id, ['pending'], 'timed_out', now + 600_001)).toBe(true);
    expect(await w.resolvePendingAdd(m.id, ['pending'], 'timed_out', now + 600_002)).toBe(false);
    expect(await w.pendingAddsDue(now + 700_000, 10)).toEqual([]);
    await w.upsertPendingAdd({ ...base, mode: 'invitation', requestedAt: now + 1, deadlineAt: now + 7_200_000 });
    expect(await w.getPendingAdd(m.id)).toMatchObject({ state: 'pending', mode: 'invitation', attempts: 2, resolvedAt: null, deadlineAt: now + 7_200_000 });
    expect(await w.resolvePendingAdd(m.id, ['pending', 'timed_out', 'failed'], 'joined', now + 2)).toBe(true);
    expect(await w.getPendingAdd(m.id)).toMatchObject({ state: 'joined', resolvedAt: now + 2 });
  });

  it('bindings: recorded, then refreshed by a second /bind', async () => {
    const { owner, group } = await basics();
    const w = t.store.wechat;
    expect(await w.getBinding(group.id)).toBeNull();
    await w.bindRoom({ groupId: group.id, roomId: 'room-1@chatroom', boundBy: null }, now + 5);
    expect(await w.getBinding(group.id)).toEqual({ groupId: group.id, roomId: 'room-1@chatroom', boundBy: null, boundAt: now + 5 });
    await w.bindRoom({ groupId: group.id, roomId: 'room-1@chatroom', boundBy: owner.id }, now + 6);
    expect(await w.getBinding(group.id)).toMatchObject({ boundBy: owner.id, boundAt: now + 6 });
  });

  it('identities keep what the puppet did not offer this time; an account follows its new contact id', async () => {
    const { member, group, m } = await basics();
    const w = t.store.wechat;
    await w.upsertIdentity({ accountId: member.id, handle: 'alice_wx', aliasTag: `gk-${member.id}`, name: 'Alice' }, now);
    await w.upsertIdentity({ accountId: member.id, handle: null, aliasTag: null, name: 'Alice B.' }, now + 1);
    expect(await w.getIdentity(member.id)).toEqual({
      accountId: member.id,
      handle: 'alice_wx',
      aliasTag: `gk-${member.id}`,
      name: 'Alice B.',
      updatedAt: now + 1,
    });
    expect(await w.findIdentityByHandle('alice_wx')).toMatchObject({ accountId: member.id });
    expect(await w.findIdentityByHandle('nobody')).toBeNull();

    await w.upsertPendingAdd({
      membershipId: m.id,
      groupId: group.id,
      accountId: member.id,
      contactId: 'wx-alice',
      roomId: 'room-1@chatroom',
      mode: 'direct',
      requestedAt: now,
      deadlineAt: now + 1,
    });
    await t.store.roster.addToWhitelist({ groupId: group.id, userId: 'wx-alice', handle: null, name: 'Alice', addedBy: null }, now);
    expect(await w.repointAccount(member.id, 'wx-alice-2')).toBe('wx-alice');
    expect(await t.store.accounts.find('wechat', 'wx-alice')).toBeNull();
    expect(await t.store.accounts.find('wechat', 'wx-alice-2')).toMatchObject({ id: member.id });
    expect((await w.getPendingAdd(m.id))!.contactId).toBe('wx-alice-2');
    expect((await t.store.roster.listWhitelist(group.id)).map((e) => e.userId)).toEqual(['wx-alice-2']);
    expect(await w.repointAccount(member.id, 'wx-alice-2')).toBeNull(); // already there
    const tg = await t.store.accounts.upsert({ platform: 'telegram', platformUserId: '42' }, now);
    expect(await w.repointAccount(tg.id, 'wx-x')).toBeNull(); // never a non-WeChat account
  });
});
