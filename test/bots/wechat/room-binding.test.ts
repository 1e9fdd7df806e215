// /bind (绑定) in a room: only an owner (claim code redeemed) binds, only a room the bot owns, and the
// refusal says why; non-owners' commands in rooms are ignored without a word.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/db.ts';
import { createClaimCode } from '../../../src/app/owners.ts';
import { auth, botRoom, makeOwner, person, say, settle, startWorld, type World } from './harness.ts';
import type { ContactMock, RoomMock } from '../../fakes/wechaty-mock-extensions.ts';

describe.each(DIALECTS)('WeChat room binding (%s)', (dialect) => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld(dialect);
  });
  afterEach(async () => {
    await w.close();
  });

  const inRoom = async (who: ContactMock, room: RoomMock, text: string, mentions: ContactMock[] = []) => {
    who.say(text, mentions).to(room);
    await new Promise((r) => setTimeout(r, 5));
    await settle(w);
  };

  it('an owner binds a room the bot owns; the group belongs to them', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Readers club', [owner]);
    const account = await makeOwner(w, owner);
    await inRoom(owner, room, '/bind');
    const group = (await w.db.store.groups.findByChat('wechat', room.id))!;
    expect(group).toMatchObject({ title: 'Readers club', ownerAccountId: account.id, intruderPolicy: 'report' });
    expect(await w.db.store.wechat.getBinding(group.id)).toMatchObject({ roomId: room.id, boundBy: account.id });
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe(
      `Room "Readers club" is now group #${group.id}. Add a plan with /addplan ${group.id} <price> <currency> <days> <name>.`,
    );
    expect((await w.db.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).map((a) => a.action)).toEqual(
      expect.arrayContaining(['group.add', 'wechat.bind']),
    );
    // Nothing was said in the room itself.
    expect(w.puppet.sent.filter((s) => s.to === room.id)).toEqual([]);

    // Again: already bound, nothing duplicated.
    await inRoom(owner, room, '绑定');
    expect(await w.db.store.groups.list()).toHaveLength(1);
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe(`Room "Readers club" is already bound as group #${group.id}.`);

    // Full-width characters from a Chinese keyboard, after an @mention of the bot (WeChat ends it with U+2005).
    const room2 = botRoom(w, 'Second room', [owner]);
    await inRoom(owner, room2, '@Gatekeeper Bot\u2005／ｂｉｎｄ', [w.botUser]);
    expect(await w.db.store.groups.findByChat('wechat', room2.id)).not.toBeNull();

    // Another owner cannot take the room over.
    const other = person(w, 'Oscar');
    w.mocker.roomPayload(room.id).memberIdList.push(other.id);
    await makeOwner(w, other);
    await inRoom(other, room, '/bind');
    expect((await w.db.store.groups.findByChat('wechat', room.id))!.ownerAccountId).toBe(account.id);
    expect(w.puppet.textsTo(other.id).at(-1)).toBe('Room "Readers club" is already bound by another owner.');
  });

  it('a room an admin registered is bound only by an owner whose groups include it', async () => {
    const room = botRoom(w, 'Admin room', []);
    const registered = (
      await w.service.app.inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'wechat', chatId: room.id, title: 'Admin room' } })
    ).json();
    const other = (
      await w.service.app.inject({
        method: 'POST',
        url: '/api/groups',
        headers: auth,
        payload: { platform: 'wechat', chatId: 'other@chatroom', title: 'Other' },
      })
    ).json();
    const scoped = person(w, 'Sam');
    const covered = person(w, 'Cora');
    w.mocker.roomPayload(room.id).memberIdList.push(scoped.id, covered.id);
    await say(w, scoped, (await createClaimCode(w.service.deps, { kind: 'admin', via: 'cli' }, [other.id])).code);
    await say(w, covered, (await createClaimCode(w.service.deps, { kind: 'admin', via: 'cli' }, [registered.id])).code);
    await inRoom(scoped, room, '/bind');
    expect(w.puppet.textsTo(scoped.id).at(-1)).toBe('Room "Admin room" is already bound by another owner.');
    expect(await w.db.store.wechat.getBinding(registered.id)).toBeNull();
    await inRoom(covered, room, '/bind');
    expect(w.puppet.textsTo(covered.id).at(-1)).toBe(`Room "Admin room" is already bound as group #${registered.id}.`);
    expect((await w.db.store.wechat.getBinding(registered.id))!.boundBy).toBe((await w.db.store.accounts.find('wechat', covered.id))!.id);
  });

  it('refuses plainly when the bot does not own the room', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Their room', [owner], owner); // the owner is 群主, not the bot
    await makeOwner(w, owner);
    await inRoom(owner, room, '/bind');
    expect(await w.db.store.groups.list()).toEqual([]);
    expect(w.puppet.textsTo(owner.id).at(-1)).toBe(
      'I cannot manage room "Their room": I must be its owner (群主) to add and remove members, and I am not. Transfer the room to me, then send /bind in it again.',
    );
  });

  it('ignores /bind and /whitelist from someone who is not an owner', async () => {
    const mallory = person(w, 'Mallory');
    const victim = person(w, 'Victor');
    const room = botRoom(w, 'Readers club', [mallory, victim]);
    // Mallory talks to the bot first, so she has an account (a member, not an owner).
    mallory.say('帮助').to(w.botUser);
    await settle(w);
    const sent = w.puppet.sent.length;
    await inRoom(mallory, room, '/bind');
    await inRoom(mallory, room, '绑定');
    expect(await w.db.store.groups.list()).toEqual([]);
    expect(w.puppet.sent.length).toBe(sent);

    // Bound by a real owner, then Mallory tries to whitelist someone there.
    const owner = person(w, 'Olivia');
    w.mocker.roomPayload(room.id).memberIdList.push(owner.id);
    await makeOwner(w, owner);
    await inRoom(owner, room, '/bind');
    const group = (await w.db.store.groups.findByChat('wechat', room.id))!;
    const sent2 = w.puppet.sent.length;
    await inRoom(mallory, room, '/whitelist @Victor', [victim]);
    expect(await w.db.store.roster.listWhitelist(group.id)).toEqual([]);
    expect(w.puppet.sent.length).toBe(sent2);

    // The owner can.
    await inRoom(owner, room, '/whitelist @Victor', [victim]);
    expect(await w.db.store.roster.listWhitelist(group.id)).toEqual([expect.objectContaining({ userId: victim.id, name: 'Victor' })]);
    expect(w.puppet.textsTo(owner.id).at(-1)).toContain('Whitelisted in "Readers club": Victor');
  });

  it('a database failure while checking who owns a room is logged as what it is, never answered as "another owner"', async () => {
    const owner = person(w, 'Olivia');
    const victim = person(w, 'Victor');
    const room = botRoom(w, 'Admin room', [owner, victim]);
    await w.service.app.inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'wechat', chatId: room.id, title: 'Admin room' } });
    const group = (await w.db.store.groups.findByChat('wechat', room.id))!;
    await makeOwner(w, owner);
    const sent = w.puppet.textsTo(owner.id).length;
    // The database goes away just as the owner check asks it.
    const scopes = w.db.store.ownerScopes;
    const get = scopes.get;
    scopes.get = () => Promise.reject(new Error('database is down'));
    try {
      await inRoom(owner, room, '/bind');
      await inRoom(owner, room, '/whitelist @Victor', [victim]);
    } finally {
      scopes.get = get;
    }
    // Nobody is told the room belongs to someone else, and nothing changed.
    expect(w.puppet.textsTo(owner.id)).toHaveLength(sent);
    expect(await w.db.store.wechat.getBinding(group.id)).toBeNull();
    expect(await w.db.store.roster.listWhitelist(group.id)).toEqual([]);
    expect(w.logger.lines.some((l) => /another group/.test(l.msg ?? ''))).toBe(false);
    // The failure reached the event boundary and was logged there, as the error itself.
    const failed = w.logger.lines.filter((l) => l.msg === 'wechat event handler failed');
    expect(failed.map((l) => ({ level: l.level, message: (l.obj as { err?: Error }).err?.message }))).toEqual([
      { level: 'error', message: 'database is down' },
      { level: 'error', message: 'database is down' },
    ]);
  });
});
