// The scheduled roster audit: people in a room without paying are reported (dry run) until the owner
// has seen a dry run and set `remove`, then removed; the owner, the bot and whitelisted people are never touched; a paid
// member who left by themselves gets a fresh invite offer; a wave of "absent" paid members (ids changed)
// stops the audit from removing anyone.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addGroup } from '../../../src/app/catalog-admin.ts';
import { createClaimCode } from '../../../src/app/owners.ts';
import { DAY_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { bindWithPlan, botRoom, buy, loginBot, makeOwner, person, say, settle, startWorld, type World } from './harness.ts';

describe.each(DIALECTS)('WeChat roster audit (%s)', (dialect) => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld(dialect);
  });
  afterEach(async () => {
    await w.close();
  });

  const tick = async () => {
    await w.service.scheduler.tick();
    await settle(w);
  };

  it('reports intruders without touching anyone until the owner confirms; then removes them, never the owner or the whitelisted', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    const alice = person(w, 'Alice');
    await buy(w, alice);
    const mallory = person(w, 'Mallory');
    const walter = person(w, 'Walter');
    room.add(mallory, walter).by(owner); // someone let them in; nobody paid
    await settle(w);

    await tick();
    const report = (await w.db.store.roster.latestReport(group.id))!;
    expect(report.intruders.map((i) => i.name)).toEqual(['Mallory', 'Walter']);
    const text = w.puppet.textsTo(owner.id).at(-1)!;
    expect(text).toContain(`Roster check of "Club" (#${group.id}): 2 people in the room without a paid membership:\n1. Mallory\n2. Walter\nNobody was removed`);
    expect(text).toContain(`/intruders ${group.id} remove`);
    expect(text).toContain(`/whitelist ${group.id} #<number>`);
    expect(w.puppet.ops.filter((o) => o.op === 'del')).toEqual([]);
    expect(w.puppet.members(room.id)).toEqual(expect.arrayContaining([mallory.id, walter.id]));

    // Same people at the next audits: no new report, no new message.
    const toOwner = w.puppet.textsTo(owner.id).length;
    await w.clock.advance(60_000);
    await tick();
    expect(w.puppet.textsTo(owner.id)).toHaveLength(toOwner);
    expect((await w.db.store.roster.latestReport(group.id))!.id).toBe(report.id);

    // A member (not an owner) cannot set the policy: it is an unknown command to them.
    await say(w, alice, `/intruders ${group.id} remove`);
    expect(w.puppet.textsTo(alice.id).some((t) => t.includes('did not understand'))).toBe(true);
    expect((await w.db.store.groups.get(group.id))!.intruderPolicy).toBe('report');
    // The audit's own report is no dry run the owner asked for: `remove` first shows one and asks again.
    await say(w, owner, `/intruders ${group.id} remove`);
    const dryRun = w.puppet.textsTo(owner.id).at(-2)!;
    expect(dryRun).toContain(`Dry run for "Club" (#${group.id}, policy: report only, report #`);
    expect(dryRun).toContain(`2 people in it without a membership would be removed:\n1. Mallory (id ${mallory.id})\n2. Walter (id ${walter.id})`);
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe(
      `Removal starts only after you have seen this list: send /intruders ${group.id} remove again within 24 hours to confirm.`,
    );
    expect((await w.db.store.groups.get(group.id))!.intruderPolicy).toBe('report');

    // #2 on the latest report (the dry run) is Walter.
    await say(w, owner, `/whitelist ${group.id} #2`);
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe(`Walter (id ${walter.id}) may stay in "Club" without a membership.`);
    await say(w, owner, `/whitelist ${group.id}`);
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe(`Whitelisted in "Club": Walter (${walter.id})`);
    const added = (await w.db.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).filter((a) => a.action === 'group.whitelist_add');
    expect(added).toEqual([
      expect.objectContaining({ actor: `account:${(await w.db.store.accounts.find('wechat', owner.id))!.id}`, detail: { userId: walter.id } }),
    ]);
    // Confirmed: the people on the dry run are removed now (each checked again: Walter is whitelisted since).
    await say(w, owner, `/intruders ${group.id} remove`);
    await settle(w);
    expect(w.puppet.textsTo(owner.id)).toEqual(
      expect.arrayContaining([
        'Intruder policy of "Club" is now: remove.',
        'Removing 2 people without a membership now; owners, admins, bots and whitelisted people never are.',
      ]),
    );
    expect((await w.db.store.groups.get(group.id))!.intruderPolicy).toBe('remove');
    expect(w.puppet.members(room.id)).not.toContain(mallory.id);
    expect(w.puppet.members(room.id)).toEqual(expect.arrayContaining([w.botUser.id, owner.id, alice.id, walter.id]));
    expect(w.puppet.ops.filter((o) => o.op === 'del')).toEqual([expect.objectContaining({ contactId: mallory.id, outcome: 'removed' })]);
    // The next audit finds nobody left to remove.
    await w.clock.advance(60_000);
    await tick();
    expect(w.puppet.ops.filter((o) => o.op === 'del')).toHaveLength(1);
    expect(w.puppet.textsTo(owner.id)).toContain(
      `Removed Mallory (id ${mallory.id}) from "Club": in it without a membership. They can buy a plan and come back.`,
    );
    const removed = (await w.db.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).filter((a) => a.action === 'group.intruder_removed');
    expect(removed).toHaveLength(1);
    expect(removed[0]!.reason).toContain('policy remove');

    // Back to report-only: a new intruder is reported, not removed.
    await say(w, owner, `/intruders ${group.id} report`);
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe('Intruder policy of "Club" is now: report only.');
    const trudy = person(w, 'Trudy');
    room.add(trudy).by(owner);
    await settle(w);
    await w.clock.advance(60_000);
    await tick();
    expect(w.puppet.members(room.id)).toContain(trudy.id);
    expect((await w.db.store.roster.latestReport(group.id))!.intruders.map((i) => i.name)).toEqual(['Trudy']);

    // Ignore: nothing at all.
    await say(w, owner, `/intruders ${group.id} ignore`);
    const peggy = person(w, 'Peggy');
    room.add(peggy).by(owner);
    await settle(w);
    const n = w.puppet.textsTo(owner.id).length;
    await w.clock.advance(60_000);
    await tick();
    expect(w.puppet.textsTo(owner.id)).toHaveLength(n);
    expect(w.puppet.members(room.id)).toContain(peggy.id);
  });

  it('a paid member who left by themselves is found and offered a fresh invite, once', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    await bindWithPlan(w, owner, room);
    const alice = person(w, 'Alice');
    await buy(w, alice);
    expect(w.puppet.members(room.id)).toContain(alice.id);

    w.puppet.leaveSilently(room.id, alice.id); // no event
    await w.clock.advance(60_000);
    await tick();
    expect(w.puppet.textsTo(alice.id).at(-1)).toMatch(
      /^You have paid access to "Club" until .+, but you are not in the room\. Reply 重新入群 to be added again\.$/,
    );
    const offers = () => w.puppet.textsTo(alice.id).filter((t) => t.startsWith('You have paid access')).length;
    await w.clock.advance(60_000);
    await tick();
    expect(offers()).toBe(1);

    await say(w, alice, '重新入群');
    expect(w.puppet.members(room.id)).toContain(alice.id);
    // In again: no more offers, even days later.
    await w.clock.advance(4 * DAY_MS);
    await tick();
    expect(offers()).toBe(1);
  });

  it('when many paid members look absent at once (ids changed), it removes nobody and tells the owner', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    const members = [person(w, 'Ann'), person(w, 'Ben'), person(w, 'Cat')];
    for (const m of members) await buy(w, m);
    await say(w, owner, `/intruders ${group.id}`);
    await say(w, owner, `/intruders ${group.id} remove`);
    expect((await w.db.store.groups.get(group.id))!.intruderPolicy).toBe('remove');
    const intruder = person(w, 'Ivan');
    room.add(intruder).by(owner);
    await settle(w);

    // A re-login hands out new ids, and these three cannot be matched (no remark, no WeChat ID).
    for (const m of members) w.mocker.contactPayload(m.id).alias = undefined;
    await w.puppet.logout();
    const fresh = members.map((m) => w.puppet.reissueContactId(m));
    await loginBot(w);
    await w.clock.advance(60_000);
    await tick();
    expect(w.puppet.ops.filter((o) => o.op === 'del')).toEqual([]);
    expect(w.puppet.members(room.id)).toEqual(expect.arrayContaining([...fresh.map((f) => f.id), intruder.id]));
    expect(w.puppet.textsTo(owner.id).at(-1)).toContain('Roster check of "Club" paused: 3 paid members look absent at once');
  });

  it('an owner of another group is no owner here: unpaid in this room, they are reported like anyone else', async () => {
    const owner = person(w, 'Olivia');
    const sam = person(w, 'Sam');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    // Sam owns another room only (a claim scoped to it), then sits in Club without paying.
    const admin = { kind: 'admin', via: 'cli' } as const;
    const other = await addGroup(w.service.deps, { platform: 'wechat', chatId: 'elsewhere-room', title: 'Elsewhere', actor: admin });
    await say(w, sam, (await createClaimCode(w.service.deps, admin, [other.id])).code);
    expect((await w.db.store.accounts.find('wechat', sam.id))?.isOwner).toBe(true);
    room.add(sam).by(owner);
    await settle(w);

    await w.service.scheduler.tick();
    await settle(w);
    const report = await w.db.store.roster.latestReport(group.id);
    expect(report?.intruders.map((i) => i.name)).toEqual(['Sam']);
  });

  it('an owner command that meets a database failure is not answered "not one of your groups"', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    const sent = w.puppet.textsTo(owner.id).length;
    const scopes = w.db.store.ownerScopes;
    const get = scopes.get;
    scopes.get = () => Promise.reject(new Error('database is down'));
    try {
      await say(w, owner, `/intruders ${group.id} ignore`);
      await say(w, owner, `/whitelist ${group.id}`);
    } finally {
      scopes.get = get;
    }
    // The engine's answer to any failure that is not the owner's doing: a plain "did not work", logged as what it is.
    expect(w.puppet.textsTo(owner.id).slice(sent)).toEqual([
      'Sorry, that did not work. Please try again, or send /help.',
      'Sorry, that did not work. Please try again, or send /help.',
    ]);
    expect((await w.db.store.groups.get(group.id))!.intruderPolicy).toBe('report');
    const failed = w.logger.lines.filter((l) => l.msg === 'conversation failed');
    expect(failed.map((l) => (l.obj as { err?: string }).err)).toEqual(['database is down', 'database is down']);
    // Back up: the same command works.
    await say(w, owner, `/intruders ${group.id} ignore`);
    expect((await w.db.store.groups.get(group.id))!.intruderPolicy).toBe('ignore');
  });
});
