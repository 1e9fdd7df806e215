// The group-roster rules of src/app/roster.ts, one test per rule, on the use cases directly: who may
// stay, the whitelist (one audit action per event), and `remove` only after a dry run the owner has seen
// within 24 hours. The adapters' own tests (test/bots/telegram/groups.test.ts, test/bots/wechat/
// roster-audit.test.ts, room-binding.test.ts) show each platform reporting its facts into these rules.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import {
  classifyRoster,
  DRY_RUN_VALID_MS,
  fingerprintOf,
  idsLookChanged,
  listWhitelist,
  mayStay,
  recordDryRun,
  setIntruderPolicy,
  unwhitelist,
  whitelist,
} from '../../src/app/roster.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

/** An owner whose claim names these groups (or every group). */
async function owner(deps: AppDeps, userId: string, groupIds?: number[]) {
  const { code } = await createClaimCode(deps, admin, groupIds);
  const a = await redeemClaimCode(deps, { platform: 'playground', userId, displayName: userId, code });
  return { account: a, actor: { kind: 'account', accountId: a.id } as Actor };
}

describe.each(DIALECTS)('roster rules (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('who may stay: bots, admins, any owner of this group, the whitelisted (by id or handle) and paying members; nobody else', async ({ t, deps }) => {
    const s = await seedOrderDirect(deps, { userId: 'paula' });
    await payDevDirect(deps, s.orderId);
    await t.service.worker.drain();
    const group = (await deps.store.groups.get(s.groupId))!;
    const other = await addGroup(deps, { platform: 'playground', chatId: 'room-2', title: 'Other', actor: admin });
    await owner(deps, 'olga', [group.id]);
    await owner(deps, 'oscar', [other.id]);
    await deps.store.roster.addToWhitelist({ groupId: group.id, userId: 'wendy', handle: 'wendy_wx', name: 'Wendy', addedBy: null }, deps.clock.now());
    const why = (userId: string, extra: object = {}) => mayStay(deps.store, group, { userId, name: null, ...extra });

    expect(await why('helper-bot', { role: 'bot' })).toBe('bot');
    expect(await why('me', { role: 'self' })).toBe('bot');
    expect(await why('anna', { role: 'admin' })).toBe('admin');
    expect(await why('olga')).toBe('owner'); // her claim names this group; she did not bind it
    expect(await why('oscar')).toBeNull(); // an owner of another group is no owner here
    expect(await why('wendy')).toBe('whitelisted');
    expect(await why('new-id-after-relogin', { handle: 'wendy_wx' })).toBe('whitelisted');
    expect(await why('paula')).toBe('paid');
    expect(await why('mallory')).toBeNull();

    // Grace still gives access; an expired membership does not.
    const account = (await deps.store.accounts.find('playground', 'paula'))!;
    const m = (await deps.store.memberships.list({ accountId: account.id, groupId: group.id }))[0]!;
    await deps.store.memberships.update(m.id, { status: 'grace', expiresAt: m.expiresAt, graceUntil: m.expiresAt + 1000 }, deps.clock.now());
    expect(await why('paula')).toBe('paid');
    await deps.store.memberships.update(m.id, { status: 'expired', expiresAt: m.expiresAt, graceUntil: null }, deps.clock.now());
    expect(await why('paula')).toBeNull();
  });

  it('classification: paid and present, paid and absent, present without paying, whitelisted; many paid absent with many strangers pauses', async ({
    t,
    deps,
  }) => {
    const paula = await seedOrderDirect(deps, { userId: 'paula' });
    await payDevDirect(deps, paula.orderId);
    const pete = await seedOrderDirect(deps, { userId: 'pete', planId: paula.planId });
    await payDevDirect(deps, pete.orderId);
    await t.service.worker.drain();
    const group = (await deps.store.groups.get(paula.groupId))!;
    await deps.store.roster.addToWhitelist({ groupId: group.id, userId: 'wendy', handle: null, name: 'Wendy', addedBy: null }, deps.clock.now());
    const person = (userId: string) => ({ userId, name: userId });

    const c = await classifyRoster(deps.store, group, [person('paula'), person('wendy'), person('mallory'), { ...person('me'), role: 'self' as const }]);
    expect(c.intruders.map((p) => p.userId)).toEqual(['mallory']);
    expect(c.staying.map((s) => [s.person.userId, s.reason])).toEqual([
      ['paula', 'paid'],
      ['wendy', 'whitelisted'],
      ['me', 'bot'],
    ]);
    expect(c.paid.map((m) => m.platformUserId).sort()).toEqual(['paula', 'pete']);
    expect(c.paidAbsent.map((m) => m.platformUserId)).toEqual(['pete']);
    expect(idsLookChanged(c)).toBe(false);

    // A re-login that gave everyone new ids: the paid look absent, strangers fill the room. Nobody may be acted on.
    const more = await Promise.all(['quinn', 'rita'].map((u) => seedOrderDirect(deps, { userId: u, planId: paula.planId })));
    for (const o of more) await payDevDirect(deps, o.orderId);
    const strangers = await classifyRoster(deps.store, group, ['x1', 'x2', 'x3', 'x4'].map(person));
    expect(strangers.paidAbsent).toHaveLength(4);
    expect(idsLookChanged(strangers)).toBe(true);
    // The same strangers while the paid members are all there: an ordinary report.
    const present = await classifyRoster(deps.store, group, ['paula', 'pete', 'quinn', 'rita', 'x1', 'x2', 'x3'].map(person));
    expect(present.intruders).toHaveLength(3);
    expect(idsLookChanged(present)).toBe(false);
  });

  it('the whitelist: one audit action per event on every platform, nothing written twice, owners of other groups refused', async ({ deps }) => {
    const group = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Club', actor: admin });
    const olga = await owner(deps, 'olga', [group.id]);
    const other = await addGroup(deps, { platform: 'playground', chatId: 'room-2', title: 'Other', actor: admin });
    const oscar = await owner(deps, 'oscar', [other.id]);

    expect(await whitelist(deps, olga.actor, group, { userId: 'wendy', name: 'Wendy' })).toBe(true);
    expect(await whitelist(deps, olga.actor, group, { userId: 'wendy', name: 'Wendy' })).toBe(false);
    expect((await listWhitelist(deps, olga.actor, group)).map((w) => w.userId)).toEqual(['wendy']);
    await expect(whitelist(deps, oscar.actor, group, { userId: 'mallory' })).rejects.toThrow(DomainError);
    await expect(unwhitelist(deps, oscar.actor, group, 'wendy')).rejects.toThrow(/not one of your groups/);
    expect(await unwhitelist(deps, olga.actor, group, 'wendy')).toBe(true);
    expect(await unwhitelist(deps, olga.actor, group, 'wendy')).toBe(false);
    expect(await deps.store.roster.listWhitelist(group.id)).toEqual([]);

    const actions = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).map((a) => [a.action, a.actor, a.detail]);
    expect(actions.filter(([a]) => String(a).startsWith('group.whitelist'))).toEqual([
      ['group.whitelist_add', `account:${olga.account.id}`, { userId: 'wendy' }],
      ['group.whitelist_remove', `account:${olga.account.id}`, { userId: 'wendy' }],
    ]);
  });

  it('`remove` only after a dry run this owner asked for within 24 hours; `report` and `ignore` any time', async ({ t, deps }) => {
    const group = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Club', actor: admin });
    const olga = await owner(deps, 'olga', [group.id]);
    const otto = await owner(deps, 'otto', [group.id]);
    const policy = async () => (await deps.store.groups.get(group.id))!.intruderPolicy;

    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: false, reason: 'needs_dry_run' });
    expect(await policy()).toBe('report');
    // A report the roster audit sent on its own, or a dry run another owner asked for, is not hers.
    await deps.store.roster.insertReport({ groupId: group.id, requestedBy: null, intruders: [], fingerprint: '' }, deps.clock.now());
    await recordDryRun(deps, otto.actor, group, [{ userId: 'eve', name: 'Eve', handle: null }]);
    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: false, reason: 'needs_dry_run' });
    // Her own, but too old.
    await recordDryRun(deps, olga.actor, group, [{ userId: 'eve', name: 'Eve', handle: null }]);
    await t.clock.advance(DRY_RUN_VALID_MS + 1);
    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: false, reason: 'needs_dry_run' });
    expect(await policy()).toBe('report');

    const seen = await recordDryRun(deps, olga.actor, group, [{ userId: 'eve', name: 'Eve', handle: null }]);
    expect(seen.fingerprint).toBe(fingerprintOf([{ userId: 'eve' }]));
    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: true, report: seen });
    expect(await policy()).toBe('remove');
    expect(await setIntruderPolicy(deps, olga.actor, (await deps.store.groups.get(group.id))!, 'ignore')).toEqual({ set: true, report: null });
    expect(await policy()).toBe('ignore');
    const audit = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).filter((a) => a.action === 'group.intruder_policy');
    expect(audit.map((a) => a.detail)).toEqual([
      { from: 'report', to: 'remove', reportId: seen.id },
      { from: 'remove', to: 'ignore', reportId: null },
    ]);
  });

  it('one grammar in the engine: /intruders, /whitelist, /unwhitelist for owners, /reinvite (重新入群) for members', async ({ t, deps }) => {
    const bot = createConversation(deps);
    const say = async (userId: string, text: string) =>
      (await bot.handle({ platform: 'playground', userId, text })).map((r) => ('text' in r ? r.text : '')).join('\n');
    const s = await seedOrderDirect(deps, { userId: 'paula' });
    await payDevDirect(deps, s.orderId);
    await t.service.worker.drain();
    const group = (await deps.store.groups.get(s.groupId))!;
    const g = group.id;
    expect(await say('olga', (await createClaimCode(deps, admin, [g])).code)).toMatch(/You are now an owner/);
    const room = t.gateway.roster(group.platformChatId);
    for (const u of ['olga', 'eve', 'mallory']) room.add(u);

    // A member gets the unknown-command answer; the owner the list of her groups with their policy.
    expect(await say('paula', `/intruders ${g}`)).toMatch(/did not understand/);
    expect(await say('olga', '/intruders')).toContain(`#${g} Group room-1: report only`);
    expect(await say('olga', `/intruders ${g} sometimes`)).toBe('Usage: /intruders [<group-id> [report|remove|ignore]]');
    // `remove` first shows the dry run and asks again; the owner and the paying member are not on it.
    const first = await say('olga', `/intruders ${g} remove`);
    expect(first).toContain('2 people in it without a membership would be removed:\n1. eve (id eve)\n2. mallory (id mallory)');
    expect(first).toContain(`send /intruders ${g} remove again within 24 hours to confirm`);
    expect((await deps.store.groups.get(g))!.intruderPolicy).toBe('report');
    // #1 on that report stays.
    expect(await say('olga', `/whitelist ${g} #1`)).toBe(`eve (id eve) may stay in "Group room-1" without a membership.`);
    expect(await say('olga', `/whitelist ${g} #9`)).toMatch(/no person #9 on the latest report/);
    expect(await say('olga', `/whitelist ${g}`)).toBe('Whitelisted in "Group room-1": eve');
    expect(await say('olga', `/intruders ${g} remove`)).toContain('Intruder policy of "Group room-1" is now: remove.');
    await t.service.worker.drain();
    expect([...room].sort()).toEqual(['eve', 'olga', 'paula']);
    expect(t.gateway.of('remove').map((c) => c.userId)).toEqual(['mallory']);
    expect(await say('olga', `/unwhitelist ${g} eve`)).toBe(`eve (id eve) is no longer whitelisted in "Group room-1".`);
    expect(await say('olga', `/unwhitelist ${g} eve`)).toMatch(/eve is not whitelisted in group/);

    // Paula left by herself: /reinvite (or 重新入群) queues a fresh invite; in again, she is told so.
    room.delete('paula');
    expect(await say('paula', '/reinvite')).toBe('OK, adding you to Group room-1 again. If you get an invitation or a join link, accept it.');
    await t.service.worker.drain();
    expect(room.has('paula')).toBe(true);
    expect(await say('paula', '重新入群')).toBe('You are already in Group room-1.');
    expect(await say('mallory', '/reinvite')).toBe('You have no paid group to rejoin right now. Send 入群 to see the plans.');
  });

  it('a dry run is fingerprinted by who is on it, whatever the order', () => {
    expect(fingerprintOf([{ userId: 'a' }, { userId: 'b' }])).toBe(fingerprintOf([{ userId: 'b' }, { userId: 'a' }]));
    expect(fingerprintOf([{ userId: 'a' }])).not.toBe(fingerprintOf([{ userId: 'b' }]));
  });
});
