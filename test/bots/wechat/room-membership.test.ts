// Adds that WeChat does not confirm: a room over 40 members (an invitation the person must accept), an
// owner's 群聊邀请确认 that swallows the add, a lost room-join event, and a member who is no longer a friend
// when the invite runs. In each case nobody who paid is left without being told what to do, and the
// owner learns why.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { removeMember } from '../../../src/app/owners.ts';
import { bindWithPlan, botRoom, buy, devPay, lastPayLink, makeOwner, people, person, say, settle, startWorld, type World } from './harness.ts';

describe.each(DIALECTS)('WeChat adds confirmed only by room-join (%s)', (dialect) => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld(dialect);
  });
  afterEach(async () => {
    await w.close();
  });

  async function setup(extra = 0) {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Big room', [owner, ...people(w, extra)]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    return { owner, room, group };
  }

  const membershipOf = async (contactId: string) => {
    const a = (await w.db.store.accounts.find('wechat', contactId))!;
    return (await w.db.store.memberships.list({ accountId: a.id }))[0]!;
  };

  it('a room over 40 members: an invitation, the member told at once; no acceptance → both told after the wait; a late acceptance still counts', async () => {
    const { owner, room } = await setup(40); // bot + owner + 40 = 42 members
    const gina = person(w, 'Gina');
    await buy(w, gina);
    expect(w.puppet.ops.filter((o) => o.contactId === gina.id)).toEqual([expect.objectContaining({ op: 'add', outcome: 'invitation' })]);
    expect(w.puppet.members(room.id)).not.toContain(gina.id);
    const m = await membershipOf(gina.id);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'pending', mode: 'invitation' });
    expect(w.puppet.textsTo(gina.id).some((t) => t.includes('An invitation to "Big room" was sent to you'))).toBe(true);
    const invite = (await w.db.store.audit.list({ subjectType: 'membership', subjectId: String(m.id) })).find((a) => a.action === 'membership.invite')!;
    expect(invite.reason).toBe('invitation to Big room sent');

    // Within the wait nothing more happens.
    await w.clock.advance(HOUR_MS);
    await w.service.scheduler.tick();
    await settle(w);
    expect(w.puppet.textsTo(gina.id).some((t) => t.includes('not been accepted yet'))).toBe(false);

    await w.clock.advance(HOUR_MS + 1);
    await w.service.scheduler.tick();
    await settle(w);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'timed_out' });
    expect(w.puppet.textsTo(gina.id).at(-1)).toBe(
      'Your invitation to "Big room" has not been accepted yet. Open the invitation card in this chat and tap to join, or reply 重新入群 for a new one.',
    );
    expect(w.puppet.textsTo(owner.id).at(-1)).toMatch(
      /^Gina \(membership #\d+\) paid for "Big room" but has not joined yet: the room has more than 40 members/,
    );
    // Told once, not at every tick.
    const told = w.puppet.sent.length;
    await w.clock.advance(HOUR_MS);
    await w.service.scheduler.tick();
    await settle(w);
    expect(w.puppet.sent.length).toBe(told);

    // She accepts after all: room-join confirms it.
    expect(w.puppet.acceptInvitation(room.id, gina.id)).toBe(true);
    await settle(w, { until: async () => (await w.db.store.wechat.getPendingAdd(m.id))?.state === 'joined' });
    expect(w.puppet.members(room.id)).toContain(gina.id);
  });

  it('群聊邀请确认 swallows the add: after the wait the member is told what to do and the owner why; 重新入群 after the owner fixes it gets them in', async () => {
    const { owner, room } = await setup();
    w.puppet.confirmRequired.add(room.id);
    const hank = person(w, 'Hank');
    await buy(w, hank);
    expect(w.puppet.ops.filter((o) => o.contactId === hank.id)).toEqual([expect.objectContaining({ outcome: 'swallowed' })]);
    const m = await membershipOf(hank.id);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'pending', mode: 'direct' });

    await w.clock.advance(10 * 60_000 + 1);
    await w.service.scheduler.tick();
    await settle(w);
    expect(w.puppet.textsTo(hank.id).at(-1)).toBe(
      'We tried to add you to "Big room", but WeChat has not confirmed it. If you see an invitation in this chat, open it and accept. Otherwise reply 重新入群 and we will try again. The group owner has been told.',
    );
    expect(w.puppet.textsTo(owner.id).at(-1)).toMatch(
      /^Hank \(membership #\d+\) paid for "Big room" but WeChat did not add them\. The room's invitation confirmation \(群聊邀请确认\) is probably on/,
    );
    expect((await w.db.store.audit.list({ subjectType: 'membership', subjectId: String(m.id) })).map((a) => a.action)).toContain('wechat.add_timeout');

    // The owner turns the setting off; Hank asks again.
    w.puppet.confirmRequired.delete(room.id);
    await say(w, hank, '重新入群');
    expect(w.puppet.textsTo(hank.id).some((t) => t === 'OK, adding you to Big room again. If you get an invitation or a join link, accept it.')).toBe(true);
    expect(w.puppet.members(room.id)).toContain(hank.id);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'joined', attempts: 2 });

    // Asking again while in: nothing queued, told so.
    await say(w, hank, '重新入群');
    expect(w.puppet.textsTo(hank.id).at(-1)).toBe('You are already in Big room.');
    expect(w.puppet.ops.filter((o) => o.contactId === hank.id)).toHaveLength(2);
  });

  it('a room-join lost in a reconnect: the member found in the room after the wait is confirmed, nobody is bothered', async () => {
    const { owner, room } = await setup();
    w.puppet.confirmRequired.add(room.id);
    const ivy = person(w, 'Ivy');
    await buy(w, ivy);
    // The owner approved the request in WeChat; the event never reached us.
    w.mocker.roomPayload(room.id).memberIdList.push(ivy.id);
    const before = w.puppet.sent.length;
    await w.clock.advance(10 * 60_000 + 1);
    await w.service.scheduler.tick();
    await settle(w);
    const m = await membershipOf(ivy.id);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'joined' });
    expect(w.puppet.sent.length).toBe(before);
    expect(w.puppet.textsTo(owner.id).some((t) => t.includes('Ivy'))).toBe(false);
  });

  it('a database failure while confirming a late join is not reported as a timed-out add: nobody is told, the add stays pending', async () => {
    const { owner, room } = await setup();
    w.puppet.confirmRequired.add(room.id);
    const ivy = person(w, 'Ivy');
    await buy(w, ivy);
    w.mocker.roomPayload(room.id).memberIdList.push(ivy.id);
    const before = w.puppet.sent.length;
    // The database fails exactly when the join is being confirmed.
    const store = w.db.store;
    const transaction = store.transaction;
    store.transaction = ((fn: Parameters<typeof transaction>[0]) =>
      transaction((tx) =>
        fn({
          ...tx,
          wechat: {
            ...tx.wechat,
            resolvePendingAdd: (id, from, to, now) =>
              to === 'joined' ? Promise.reject(new Error('database is down')) : tx.wechat.resolvePendingAdd(id, from, to, now),
          },
        }),
      )) as typeof transaction;
    try {
      await w.clock.advance(10 * 60_000 + 1);
      // It reaches the sweep's boundary (the cron logs a failed tick) instead of being taken for WeChat's silence.
      await expect(w.service.scheduler.tick()).rejects.toThrow('database is down');
      await settle(w);
    } finally {
      store.transaction = transaction;
    }
    const m = await membershipOf(ivy.id);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'pending' });
    expect(w.puppet.sent.length).toBe(before);
    expect(w.puppet.textsTo(owner.id).some((t) => t.includes('Ivy'))).toBe(false);
    // Back up: the next sweep confirms the join.
    await w.clock.advance(60_000);
    await w.service.scheduler.tick();
    await settle(w);
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'joined' });
  });

  it('a member who is no longer a friend when the invite runs: the owner is told; when they befriend the bot again they are invited', async () => {
    const { owner, room } = await setup();
    const jack = person(w, 'Jack');
    await say(w, jack, '入群');
    await say(w, jack, '1');
    const orderId = lastPayLink(w, jack.id);
    w.puppet.unfriend(jack.id); // deletes the bot right after paying
    await devPay(w, orderId);
    await settle(w);
    expect(w.puppet.members(room.id)).not.toContain(jack.id);
    const dead = await w.db.store.jobs.list({ status: 'dead' });
    expect(dead.map((j) => j.kind).sort()).toEqual(['invite', 'notify']);
    expect(dead.find((j) => j.kind === 'invite')!.lastError).toMatch(/no longer a friend of the bot/);
    expect(w.puppet.textsTo(owner.id).some((t) => t.includes('Gave up on a "invite" task') && t.includes('no longer a friend'))).toBe(true);
    expect(w.puppet.ops.filter((o) => o.contactId === jack.id)).toEqual([]);

    w.puppet.friendRequest(jack, 'hi again');
    await settle(w);
    expect(w.puppet.members(room.id)).toContain(jack.id);
    const m = await membershipOf(jack.id);
    expect(m.status).toBe('active');
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'joined' });
  });

  it('removal needs the bot to own the room: otherwise the owner is told why and nothing pretends it worked', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    await bindWithPlan(w, owner, room);
    const kim = person(w, 'Kim');
    await buy(w, kim);
    expect(w.puppet.members(room.id)).toContain(kim.id);
    // Ownership moved to a person afterwards.
    w.mocker.roomPayload(room.id).ownerId = owner.id;
    const m = await membershipOf(kim.id);
    await removeMember(w.service.deps, { actor: { kind: 'admin', via: 'api' }, membershipId: m.id, reason: 'test' });
    await settle(w);
    expect(w.puppet.members(room.id)).toContain(kim.id);
    const dead = (await w.db.store.jobs.list({ kind: 'remove' }))[0]!;
    expect(dead.status).toBe('dead');
    expect(dead.lastError).toMatch(/not the owner \(群主\) of "Club"/);
    expect(w.puppet.textsTo(kim.id).some((t) => t.includes('withdrawn'))).toBe(false);
    expect(w.puppet.textsTo(owner.id).some((t) => t.includes('not the owner (群主)'))).toBe(true);
  });
});
