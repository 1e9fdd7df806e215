// Groups: binding by an owner (rights checked and explained) or by a stranger (the bot leaves), a
// supergroup migration that keeps plans and members, the roster and the intruder policy, and the owner's
// commands in private chat.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addGroup } from '../../../src/app/catalog-admin.ts';
import { createClaimCode } from '../../../src/app/owners.ts';
import { DAY_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { type Harness, startTelegram } from './harness.ts';

describe.each(DIALECTS)('Telegram groups (%s)', (dialect) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startTelegram(dialect);
  });
  afterEach(async () => {
    await h.close();
  });

  it('binds a group for the owner who adds the bot and tells them in plain words which rights are missing', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const chatId = emu.createGroup({ title: 'Book club', creator: owner });

    emu.addBot(chatId, owner, 'member');
    await h.until(() => h.texts(owner.id).some((x) => x.includes('I am not an administrator there')), 'told the bot is no admin');
    const group = (await store.groups.findByChat('telegram', String(chatId)))!;
    expect(group).toMatchObject({ platform: 'telegram', title: 'Book club', ownerAccountId: (await store.accounts.find('telegram', String(owner.id)))!.id });
    // Two messages; under load the registration notice may arrive after the rights notice.
    await h.until(() => h.texts(owner.id).some((x) => x.includes(`group #${group.id}`)), 'told the group id');

    emu.setBotRights(chatId, owner, { can_invite_users: false, can_restrict_members: true });
    await h.until(
      () => h.texts(owner.id).some((x) => x.includes('these rights are off: "Invite users via link"') && x.includes('let paying members in')),
      'told invite right is missing',
    );
    emu.setBotRights(chatId, owner, { can_invite_users: true, can_restrict_members: false });
    await h.until(() => h.texts(owner.id).some((x) => x.includes('"Ban users"') && x.includes('remove members whose time is up')), 'told ban right is missing');
    emu.setBotRights(chatId, owner, {});
    await h.until(() => h.texts(owner.id).some((x) => x.includes('All set') && x.includes('Book club')), 'told all is well');

    // Without the right, an invite fails in plain words and the owner is told; nobody is silently dropped.
    emu.setBotRights(chatId, owner, { can_invite_users: false });
    await h.plan(group.id);
    const alice = emu.addUser('Alice');
    await h.buyWithDev(alice);
    await h.until(async () => (await store.jobs.list({ kind: 'invite', status: 'dead' })).length === 1, 'invite dead-lettered');
    await h.until(() => h.texts(owner.id).some((x) => x.includes('Gave up on a "invite" task') && x.includes('not enough rights')), 'owner told why');

    // Removed from the group: the owner hears about it.
    emu.removeBot(chatId, owner);
    await h.until(() => h.texts(owner.id).some((x) => x.includes('I was removed from "Book club"')), 'told the bot was removed');
  });

  it('leaves a group it was added to by someone who is not an owner, saying why', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const stranger = emu.addUser('Steve');
    const chatId = emu.createGroup({ title: 'Not yours', creator: stranger });
    emu.addBot(chatId, stranger);
    await h.until(() => emu.status(chatId, emu.bot.id) === 'left', 'the bot left');
    expect(h.texts(chatId)).toEqual([expect.stringContaining('Only an owner of this bot can add it to a group')]);
    expect(await store.groups.findByChat('telegram', String(chatId))).toBeNull();
    expect((await store.audit.list({ subjectType: 'telegram_chat', subjectId: String(chatId) })).map((a) => a.action)).toEqual(['group.bind_refused']);
  });

  it('keeps plans and members when a group becomes a supergroup, whether told by a message or by a 400', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner, 'Small talk', 'group');
    await h.plan(group.id);
    const alice = emu.addUser('Alice');
    await h.buyAndJoin(alice, chatId);

    const superId = emu.migrate(chatId);
    await h.until(async () => (await store.groups.get(group.id))!.platformChatId === String(superId), 'group follows the migration');
    expect(await store.groups.findByChat('telegram', String(chatId))).toBeNull();
    expect((await store.plans.list({ groupId: group.id })).map((p) => p.name)).toEqual(['Monthly']);
    const account = (await store.accounts.find('telegram', String(alice.id)))!;
    expect((await store.memberships.list({ accountId: account.id, groupId: group.id }))[0]!.status).toBe('active');

    // A second group learns of its migration only from the 400 its next call gets.
    const { chatId: quietId, group: quiet } = await h.boundGroup(owner, 'Quiet room', 'group');
    await h.plan(quiet.id, '5.00', 'CNY', 30, 'Quiet');
    const bob = emu.addUser('Bob');
    const quietSuper = emu.migrate(quietId, { silent: true });
    await h.buyWithDev(bob, '/start', /^Quiet/);
    const link = await h.inviteLink(bob);
    expect(emu.calls.some((c) => c.status === 400 && c.description?.includes('upgraded to a supergroup'))).toBe(true);
    expect((await store.groups.get(quiet.id))!.platformChatId).toBe(String(quietSuper));
    expect(emu.joinViaLink(bob, link)).toBe('requested');
    await h.until(() => emu.isMember(quietSuper, bob.id), 'bob in the supergroup');

    // The lapse removal goes to the new id.
    const [m] = await store.memberships.list({ accountId: account.id, groupId: group.id });
    h.clock.set(m!.expiresAt + 2 * DAY_MS);
    await h.tick();
    await h.tick();
    // Removed means banned then unbanned: wait for both (right after the ban she is out, but still kicked).
    await h.until(() => emu.status(superId, alice.id) === 'left', 'alice removed from the supergroup');
  });

  it('reports, removes or ignores people who join without a membership, never the owner, admins, bots or whitelisted people', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const admin = emu.addUser('Adam');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id);
    const open = emu.adminLink(chatId, owner);

    // Default policy: report only.
    const eve = emu.addUser('Eve');
    expect(emu.joinViaLink(eve, open)).toBe('joined');
    await h.until(
      () => h.texts(owner.id).some((x) => x.includes(`Eve (Telegram id ${eve.id}) joined "Readers club" without a membership`)),
      'owner told about eve',
    );
    expect(emu.isMember(chatId, eve.id)).toBe(true);

    // Never reported: an admin the owner adds, another bot, a whitelisted person, a paying member.
    emu.promote(chatId, admin, owner);
    const otherBot = emu.addUser('HelperBot', { is_bot: true });
    emu.addMember(chatId, otherBot, owner);
    const wendy = emu.addUser('Wendy');
    emu.sendText(owner, `/whitelist ${group.id} ${wendy.id}`);
    await h.until(
      () => h.texts(owner.id).some((x) => x.includes(`Wendy (id ${wendy.id}) may stay`) || x.includes(`(id ${wendy.id}) may stay`)),
      'wendy whitelisted',
    );
    emu.joinViaLink(wendy, open);
    const paul = emu.addUser('Paul');
    await h.buyAndJoin(paul, chatId);
    // Nor another owner of this group (an operator here), though Olga bound it (app/roster.ts mayStay).
    const otto = await h.owner('Otto');
    emu.joinViaLink(otto, open);
    await h.run(5_000);
    const reports = h.texts(owner.id).filter((x) => x.includes('without a membership. Nothing was done'));
    expect(reports).toHaveLength(1);
    // Frank joins without paying (reported), then pays: he is no intruder any more.
    const frank = emu.addUser('Frank');
    emu.joinViaLink(frank, open);
    await h.until(() => h.texts(owner.id).some((x) => x.includes(`Frank (Telegram id ${frank.id})`)), 'owner told about frank');
    await h.buyWithDev(frank);
    const frankAccount = (await store.accounts.find('telegram', String(frank.id)))!;
    expect((await store.memberships.list({ accountId: frankAccount.id }))[0]!.status).toBe('active');

    // `remove` needs the dry run first.
    emu.sendText(owner, `/intruders ${group.id} remove`);
    await h.until(() => h.texts(owner.id).some((x) => x.includes(`send /intruders ${group.id} remove again within 24 hours to confirm`)), 'asked to confirm');
    const dryRun = h.texts(owner.id).find((x) => x.startsWith('Dry run for "Readers club"'))!;
    expect(dryRun).toContain(`1. Eve (id ${eve.id})`);
    expect(dryRun).not.toContain('Wendy');
    expect(dryRun).not.toContain('Paul');
    expect(dryRun).not.toContain('HelperBot');
    expect(dryRun).not.toContain('Frank');
    expect(dryRun).not.toContain('Otto');
    expect(emu.isMember(chatId, eve.id)).toBe(true);
    emu.sendText(owner, `/intruders ${group.id} remove`);
    // Removed = banned, then unbanned so she may come back by paying: wait for both calls, not just the first.
    await h.until(() => emu.status(chatId, eve.id) === 'left', 'eve removed (banned, then unbanned)');
    await h.until(() => h.texts(owner.id).some((x) => x.startsWith('Removed Eve')), 'owner told eve was removed');
    for (const u of [owner, admin, otherBot, wendy, paul, frank, otto]) expect(emu.isMember(chatId, u.id)).toBe(true);
    expect((await store.groups.get(group.id))!.intruderPolicy).toBe('remove');

    // From now on a newcomer without a membership is removed at once.
    const zed = emu.addUser('Zed');
    emu.joinViaLink(zed, open);
    await h.until(() => emu.status(chatId, zed.id) === 'left', 'zed removed');
    await h.until(() => h.texts(owner.id).some((x) => x.startsWith('Removed Zed')), 'owner told zed was removed');

    // `ignore`: nobody is told, nothing is done.
    emu.sendText(owner, `/intruders ${group.id} ignore`);
    await h.until(() => h.texts(owner.id).some((x) => x.includes('is now: ignore')), 'policy ignore');
    const count = h.texts(owner.id).length;
    const ida = emu.addUser('Ida');
    emu.joinViaLink(ida, open);
    await h.until(async () => (await store.telegram.getRosterEntry(group.id, String(ida.id)))?.intruderState === 'ignored', 'ida seen');
    await h.run(3_000);
    expect(emu.isMember(chatId, ida.id)).toBe(true);
    expect(h.texts(owner.id)).toHaveLength(count);
    expect(emu.violations).toEqual([]);
  });

  it('answers owner commands in private chat and ignores them in groups and from non-owners', async () => {
    const { emu } = h;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);

    emu.sendText(owner, `/addplan ${group.id} 12.50 CNY 30 Monthly`);
    await h.until(() => h.texts(owner.id).some((x) => x.includes('"Monthly" added: 12.50 CNY for 30 days')), 'plan added');
    emu.sendText(owner, '/groups');
    await h.until(() => h.texts(owner.id).some((x) => x.includes(`#${group.id} Readers club (telegram)`)), 'groups listed');
    const alice = emu.addUser('Alice');
    await h.buyAndJoin(alice, chatId);
    emu.sendText(owner, `/members ${group.id}`);
    await h.until(() => h.texts(owner.id).some((x) => /#\d+ Alice: active until/.test(x)), 'members listed');
    emu.sendText(owner, '/ownerhelp');
    await h.until(() => h.texts(owner.id).some((x) => x.startsWith('Telegram: add me to a group')), 'telegram owner help');

    // In the group the same command does nothing; a non-owner's /intruders is an unknown command.
    const inGroup = emu.messagesTo(chatId).length;
    const ownerCount = h.texts(owner.id).length;
    emu.sendToGroup(owner, chatId, '/stats');
    emu.sendToGroup(owner, chatId, `/remove 1`);
    emu.sendText(alice, `/intruders ${group.id} remove`);
    await h.until(() => h.texts(alice.id).some((x) => x.includes('did not understand')), 'alice gets the unknown reply');
    await h.run(2_000);
    expect(emu.messagesTo(chatId)).toHaveLength(inGroup);
    expect(h.texts(owner.id)).toHaveLength(ownerCount);
    expect(emu.isMember(chatId, alice.id)).toBe(true);
    expect((await h.t.service.deps.store.groups.get(group.id))!.intruderPolicy).toBe('report');
  });

  it('an owner with a scoped claim binds a group by adding the bot and acts there only', async () => {
    const { emu } = h;
    const deps = h.t.service.deps;
    const admin = { kind: 'admin', via: 'cli' } as const;
    const seed = await addGroup(deps, { platform: 'telegram', chatId: '-999', title: 'Seed', actor: admin });
    const scopedOwner = async (name: string) => {
      const user = emu.addUser(name, { language_code: 'en' });
      emu.sendText(user, (await createClaimCode(deps, admin, [seed.id])).code);
      await h.until(() => h.texts(user.id).some((x) => x.includes('You are now an owner')), `${name} becomes an owner`);
      return user;
    };
    const ann = await scopedOwner('Ann');
    const bob = await scopedOwner('Bob');
    const a = await h.boundGroup(ann, 'Ann club');
    const b = await h.boundGroup(bob, 'Bob club');
    const refusal = `That did not work: group ${b.group.id} is not one of your groups; ask the operator for a claim code that covers it`;
    emu.sendText(ann, `/intruders ${b.group.id} ignore`);
    await h.until(() => h.texts(ann.id).includes(refusal), '/intruders refused');
    expect((await deps.store.groups.get(b.group.id))!.intruderPolicy).toBe('report');
    emu.sendText(ann, `/whitelist ${b.group.id} 12345`);
    emu.sendText(ann, `/members ${b.group.id}`);
    await h.until(() => h.texts(ann.id).filter((x) => x === refusal).length === 3, '/whitelist and /members refused');
    expect(await deps.store.roster.listWhitelist(b.group.id)).toEqual([]);
    emu.sendText(ann, '/groups');
    await h.until(() => h.texts(ann.id).some((x) => x.includes(`#${a.group.id} Ann club (telegram)`)), 'groups listed');
    const listed = h.texts(ann.id).find((x) => x.includes(`#${a.group.id} Ann club (telegram)`))!;
    expect(listed).toContain(`#${seed.id} Seed`);
    expect(listed).not.toContain('Bob club');
  });
});
