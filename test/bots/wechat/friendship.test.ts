// Friend requests: accepted automatically (or only with the configured keyword), then greeted with the
// plans as a numbered menu ("1" → QR → pay → added, room-join seen); the account gets the bot's remark
// so it is found again after a re-login.
import { afterEach, describe, expect, it } from 'vitest';
import { aliasTag } from '../../../bots/wechat/identity.ts';
import { auth, botRoom, devPay, lastPayLink, person, say, settle, startWorld, type World } from './harness.ts';

async function groupWithPlan(w: World) {
  const room = botRoom(w, 'Readers club');
  const g = await w.service.app.inject({
    method: 'POST',
    url: '/api/groups',
    headers: auth,
    payload: { platform: 'wechat', chatId: room.id, title: 'Readers club' },
  });
  expect(g.statusCode).toBe(201);
  const p = await w.service.app.inject({
    method: 'POST',
    url: '/api/plans',
    headers: auth,
    payload: { groupIds: [g.json().id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30 },
  });
  expect(p.statusCode).toBe(201);
  return room;
}

describe('WeChat friend requests', () => {
  let w: World;
  afterEach(async () => {
    await w.close();
  });

  it('accepts any request when no keyword is configured, greets with the plans, and tags the contact', async () => {
    w = await startWorld('sqlite');
    const room = await groupWithPlan(w);
    const erin = person(w, 'Erin', { friend: false });
    w.puppet.friendRequest(erin, 'hi');
    await settle(w);
    expect(w.puppet.accepted).toEqual([erin.id]);
    const texts = w.puppet.textsTo(erin.id);
    expect(texts[0]).toContain('Hi Erin!');
    expect(texts[1]).toMatch(/Pick a plan[^\n]*\n1\. Monthly: 9\.90 CNY for 30 days$/);
    const account = (await w.db.store.accounts.find('wechat', erin.id))!;
    expect(account.displayName).toBe('Erin');
    expect(w.mocker.contactPayload(erin.id).alias).toBe(aliasTag(account.id));
    expect(await w.db.store.wechat.getIdentity(account.id)).toMatchObject({ aliasTag: aliasTag(account.id), name: 'Erin' });
    expect((await w.db.store.audit.list({ subjectType: 'account', subjectId: String(account.id) })).map((a) => a.action)).toContain('wechat.friend_accepted');

    // The greeting's menu answers "1" right away: the QR image; paying gets her into the room.
    await say(w, erin, '1');
    expect(w.puppet.sentTo(erin.id).some((s) => s.kind === 'image')).toBe(true);
    await devPay(w, lastPayLink(w, erin.id));
    await settle(w);
    expect(w.puppet.members(room.id)).toContain(erin.id);
    const m = (await w.db.store.memberships.list({ accountId: account.id }))[0]!;
    expect(await w.db.store.wechat.getPendingAdd(m.id)).toMatchObject({ state: 'joined' });

    // A duplicated event for the same request changes nothing.
    const n = w.puppet.sent.length;
    w.puppet.emit('friendship', { friendshipId: [...(w.puppet as unknown as { friendships: Map<string, unknown> }).friendships.keys()][0]! });
    await settle(w);
    expect(w.puppet.sent.length).toBe(n);
  });

  it('with WECHAT_FRIEND_KEYWORD set, accepts only requests whose greeting carries it', async () => {
    w = await startWorld('sqlite', { env: { WECHAT_FRIEND_KEYWORD: 'Readers2026' } });
    await groupWithPlan(w);
    const frank = person(w, 'Frank', { friend: false });
    w.puppet.friendRequest(frank, 'hello, please add me');
    await settle(w);
    expect(w.puppet.accepted).toEqual([]);
    expect(w.puppet.sentTo(frank.id)).toEqual([]);
    expect(await w.db.store.accounts.find('wechat', frank.id)).toBeNull();
    expect(w.mocker.contactPayload(frank.id).friend).toBe(false);

    w.puppet.friendRequest(frank, '我想加入 ｒｅａｄｅｒｓ２０２６');
    await settle(w);
    expect(w.puppet.accepted).toEqual([frank.id]);
    expect(w.puppet.textsTo(frank.id)[0]).toContain('Hi Frank!');
    expect(w.puppet.textsTo(frank.id)[1]).toContain('1. Monthly');
  });
});
