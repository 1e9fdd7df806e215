// The member story on WeChat, end to end through the real service: an owner claims and binds a room and
// adds a plan from WeChat; a member writes 入群, gets a numbered menu, answers "1", gets the QR image and
// the pay link, pays (dev provider), is added with room.add and confirmed by room-join; at lapse they are
// removed with room.remove and the member list confirms it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as PUPPET from 'wechaty-puppet';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { extendMembership } from '../../../src/app/owners.ts';
import { bindWithPlan, botRoom, buy, devPay, lastPayLink, makeOwner, person, say, settle, startWorld, waitFor, type World } from './harness.ts';

describe.each(DIALECTS)('WeChat member story (%s)', (dialect) => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld(dialect);
  });
  afterEach(async () => {
    await w.close();
  });

  it('入群 → numbered menu → 1 → QR image + link → pay → room.add → room-join → in the room; lapse → removed and confirmed', async () => {
    const owner = person(w, 'Olivia Owner');
    const room = botRoom(w, 'Readers club', [owner]);
    await makeOwner(w, owner);
    const { group, planId } = await bindWithPlan(w, owner, room);
    expect(group).toMatchObject({ platform: 'wechat', platformChatId: room.id, title: 'Readers club' });
    expect(w.puppet.textsTo(owner.id).join('\n')).toContain(`#${group.id}`);

    const alice = person(w, 'Alice');
    await say(w, alice, '入群');
    const menu = w.puppet.textsTo(alice.id).find((t) => t.includes('1. Monthly'));
    expect(menu).toBeDefined();
    expect(menu).toMatch(/1\. Monthly: 9\.90 CNY for 30 days/);

    await say(w, alice, '1');
    const sent = w.puppet.sentTo(alice.id);
    const image = sent.find((s) => s.kind === 'image');
    expect(image?.png?.subarray(1, 4).toString()).toBe('PNG');
    const orderId = lastPayLink(w, alice.id);
    const account = (await w.db.store.accounts.find('wechat', alice.id))!;
    const order = (await w.db.store.orders.get(orderId))!;
    expect(order).toMatchObject({ accountId: account.id, planId, status: 'pending', provider: 'dev' });
    // The caption comes right after the image; the pay link after it.
    const i = sent.indexOf(image!);
    expect(sent[i + 1]?.text).toContain('Scan this code');
    expect(sent[i + 2]?.text).toContain(`http://gk.test/pay/${orderId}`);

    await devPay(w, orderId);
    await settle(w);
    expect(w.puppet.members(room.id)).toContain(alice.id);
    expect(w.puppet.ops.filter((o) => o.contactId === alice.id)).toEqual([expect.objectContaining({ op: 'add', roomId: room.id, outcome: 'joined' })]);
    const m = (await w.db.store.memberships.list({ accountId: account.id }))[0]!;
    expect(m.status).toBe('active');
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'joined', mode: 'direct' });
    expect((await w.db.store.audit.list({ subjectType: 'membership', subjectId: String(m.id) })).map((a) => a.action)).toEqual(
      expect.arrayContaining(['membership.grant', 'membership.invite', 'wechat.join_confirmed']),
    );
    expect(w.puppet.textsTo(alice.id).some((t) => t.startsWith('Payment received'))).toBe(true);

    // Paid time over, then grace over: removed with room.remove, confirmed against the member list.
    await w.clock.advance(30 * DAY_MS + 25 * HOUR_MS);
    await w.service.scheduler.tick();
    await settle(w);
    expect(w.puppet.members(room.id)).not.toContain(alice.id);
    expect(w.puppet.ops.filter((o) => o.contactId === alice.id && o.op === 'del')).toEqual([expect.objectContaining({ outcome: 'removed' })]);
    expect((await w.db.store.memberships.get(m.id))!.status).toBe('expired');
    expect(w.puppet.textsTo(alice.id).some((t) => t.includes('has ended and you have been removed'))).toBe(true);
    expect(await w.db.store.jobs.list({ status: 'dead' })).toEqual([]);
    // The owner and the bot are still in the room.
    expect(w.puppet.members(room.id)).toEqual(expect.arrayContaining([w.botUser.id, owner.id]));
  });

  it('a removal that WeChat does not carry out is retried until the member list confirms it', async () => {
    const owner = person(w, 'Olivia Owner');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    await bindWithPlan(w, owner, room);
    const bob = person(w, 'Bob');
    await say(w, bob, '入群');
    await say(w, bob, '1');
    await devPay(w, lastPayLink(w, bob.id));
    await settle(w);
    expect(w.puppet.members(room.id)).toContain(bob.id);

    w.puppet.ignoreRemovals.add(room.id);
    await w.clock.advance(30 * DAY_MS + 25 * HOUR_MS);
    await w.service.scheduler.tick();
    await settle(w);
    const removal = (await w.db.store.jobs.list({ kind: 'remove' }))[0]!;
    expect(removal.status).toBe('queued');
    expect(removal.lastError).toMatch(/not confirmed/);
    expect(w.puppet.textsTo(bob.id).some((t) => t.includes('removed'))).toBe(false);

    w.puppet.ignoreRemovals.delete(room.id);
    await w.clock.advance(60 * 60_000);
    await settle(w);
    expect(w.puppet.members(room.id)).not.toContain(bob.id);
    expect((await w.db.store.jobs.list({ kind: 'remove' }))[0]!.status).toBe('done');
  });

  it('a member who renews while their removal waits for the limiter stays in the room', async () => {
    const owner = person(w, 'Olivia Owner');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    await bindWithPlan(w, owner, room);
    const cid = person(w, 'Cid');
    await buy(w, cid);
    const account = (await w.db.store.accounts.find('wechat', cid.id))!;
    const m = (await w.db.store.memberships.list({ accountId: account.id }))[0]!;

    await w.clock.advance(30 * DAY_MS + 25 * HOUR_MS);
    w.service.limiter.pause('wechat', 120_000); // WeChat asked us to slow down
    await w.service.scheduler.tick();
    expect((await w.db.store.memberships.get(m.id))!.status).toBe('expired');
    const draining = w.service.worker.drain();
    await waitFor(() => w.service.limiter.pending > 0, 'removal waiting for the limiter');
    await extendMembership(w.service.deps, { actor: { kind: 'admin', via: 'api' }, membershipId: m.id, days: 30, reason: 'renewed by bank transfer' });
    await settle(w);
    await draining;
    expect(w.puppet.members(room.id)).toContain(cid.id);
    expect(w.puppet.ops.filter((o) => o.op === 'del')).toEqual([]);
    expect((await w.db.store.memberships.get(m.id))!.status).toBe('active');
    expect((await w.db.store.jobs.list({ kind: 'remove' })).map((j) => j.status)).toEqual(['done']);
    expect(w.puppet.textsTo(cid.id).some((t) => t.includes('removed'))).toBe(false);
  });

  it('ignores what it should: its own messages, official accounts, unbound rooms; answers images, voice and links with "text only"', async () => {
    const official = person(w, 'Some Official Account', { type: PUPPET.types.Contact.Official });
    await say(w, official, '入群');
    expect(w.puppet.sentTo(official.id)).toEqual([]);
    expect(await w.db.store.accounts.find('wechat', official.id)).toBeNull();

    const carol = person(w, 'Carol');
    const unbound = botRoom(w, 'Unbound room', [carol]);
    carol.say('入群').to(unbound);
    carol.say('/bind').to(unbound);
    await settle(w);
    expect(w.puppet.sent).toEqual([]);
    expect(await w.db.store.groups.list()).toEqual([]);
    expect(await w.db.store.accounts.find('wechat', carol.id)).toBeNull();

    for (const type of [PUPPET.types.Message.Image, PUPPET.types.Message.Audio, PUPPET.types.Message.Url]) {
      w.puppet.deliver(carol, w.botUser, type);
      await settle(w);
    }
    // One answer, not three: at most one a minute.
    expect(w.puppet.textsTo(carol.id)).toEqual([expect.stringContaining('I can only read text')]);
    await w.clock.advance(61_000);
    w.puppet.deliver(carol, w.botUser, PUPPET.types.Message.Image);
    await settle(w);
    expect(w.puppet.textsTo(carol.id)).toHaveLength(2);

    // The bot's own sends come back as messages from itself: never answered.
    const before = w.puppet.sent.length;
    w.botUser.say('/start').to(carol);
    await settle(w);
    expect(w.puppet.sent.length).toBe(before + 0);
  });
});
