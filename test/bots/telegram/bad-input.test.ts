// Bad input, each answered or ignored cleanly: updates with missing fields, channel updates, edited
// messages, stickers, very long texts, unknown callback data, callback data for someone else's order, a
// join request for an unregistered group, an owner command in a group chat.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/db.ts';
import { buttonUrl, type Harness, startTelegram } from './harness.ts';

describe.each(DIALECTS)('Telegram bad input (%s)', (dialect) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startTelegram(dialect);
  });
  afterEach(async () => {
    await h.close();
  });

  it('ignores malformed and foreign updates, and answers odd messages with help', async () => {
    const { emu, adapter } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id);
    const sentBefore = emu.sent.length;
    const callsBefore = emu.calls.filter((c) => c.method !== 'getUpdates').length;

    // Missing fields, wrong types, channels, edited messages, null: no call, no state, no crash.
    await adapter.handleUpdate(null);
    await adapter.handleUpdate({ message: { text: 'no update id' } });
    await adapter.handleUpdate({ update_id: 1, message: {} });
    await adapter.handleUpdate({
      update_id: 2,
      message: { message_id: 1, date: 1, chat: { id: 5, type: 'private' }, from: { id: 'five', first_name: 'X', is_bot: false }, text: '/start' },
    });
    await adapter.handleUpdate({ update_id: 3, callback_query: { id: 'q', data: 'cmd:plans' } });
    await adapter.handleUpdate({ update_id: 4, chat_join_request: { chat: { id: chatId, type: 'supergroup' }, date: 1 } });
    await adapter.handleUpdate({
      update_id: 5,
      my_chat_member: {
        chat: { id: -100, type: 'channel', title: 'A channel' },
        from: { id: owner.id, is_bot: false, first_name: 'Olga' },
        date: 1,
        old_chat_member: { status: 'left', user: emu.bot },
        new_chat_member: { status: 'administrator', user: emu.bot },
      },
    });
    await adapter.handleUpdate({ update_id: 6, channel_post: { message_id: 1, date: 1, chat: { id: -100, type: 'channel' }, text: '/stats' } });
    await adapter.handleUpdate({
      update_id: 7,
      edited_message: {
        message_id: 1,
        date: 1,
        chat: { id: owner.id, type: 'private' },
        from: { id: owner.id, is_bot: false, first_name: 'Olga' },
        text: '/stats',
      },
    });
    await adapter.handleUpdate({ update_id: 8, pre_checkout_query: { id: 'x', from: { id: owner.id }, currency: 'XTR' } });
    // Edited messages are not even asked for: the emulator drops them.
    emu.editText(owner, '/stats');
    expect(emu.dropped).toContain('edited_message');
    await h.run(2_000);
    expect(emu.sent.length).toBe(sentBefore);
    expect(emu.calls.filter((c) => c.method !== 'getUpdates')).toHaveLength(callsBefore);
    expect(await store.accounts.find('telegram', 'five')).toBeNull();
    expect(await store.groups.findByChat('telegram', '-100')).toBeNull();

    // A sticker, a 10 000-character text, unknown button data: the help menu, nothing else.
    const alice = emu.addUser('Alice');
    emu.sendSticker(alice);
    await h.until(() => h.texts(alice.id).some((x) => x.includes('did not understand')), 'help after a sticker');
    const n = emu.messagesTo(alice.id).length;
    emu.sendText(alice, 'x'.repeat(10_000));
    await h.until(
      () =>
        emu.messagesTo(alice.id).length > n &&
        h
          .texts(alice.id)
          .slice(n)
          .some((x) => x.includes('did not understand')),
      'help after a long text',
    );
    const m = emu.messagesTo(alice.id).length;
    emu.pressRaw(alice, 'drop table orders;');
    await h.until(
      () =>
        h
          .texts(alice.id)
          .slice(m)
          .some((x) => x.includes('did not understand')),
      'help after unknown data',
    );
    expect(emu.calls.filter((c) => c.method === 'answerCallbackQuery' && c.status === 200).length).toBeGreaterThan(0);

    // Alice's order stays hers: Bob pressing the same "pay" data makes his own order.
    await h.buyWithDev(alice, '/start', /^Monthly/, () => undefined);
    const [aliceOrder] = await store.orders.page({ limit: 1 });
    const bob = emu.addUser('Bob');
    emu.sendText(bob, '/help');
    await h.until(() => emu.messagesTo(bob.id).length > 0, 'bob started the bot');
    const b = emu.messagesTo(bob.id).length;
    emu.pressRaw(bob, `pay:${aliceOrder!.planId}:dev`);
    await h.until(
      () =>
        emu
          .messagesTo(bob.id)
          .slice(b)
          .some((x) => x.photo),
      'bob gets his own QR',
    );
    const bobUrl = buttonUrl(
      emu
        .messagesTo(bob.id)
        .slice(b)
        .find((x) => x.photo),
    );
    expect(bobUrl).not.toContain(aliceOrder!.id);
    const bobAccount = (await store.accounts.find('telegram', String(bob.id)))!;
    const bobOrders = await store.orders.page({ accountId: bobAccount.id, limit: 5 });
    expect(bobOrders).toHaveLength(1);
    expect(bobOrders[0]!.id).not.toBe(aliceOrder!.id);
    expect((await store.orders.get(aliceOrder!.id))!.accountId).not.toBe(bobAccount.id);

    // A join request for a group nobody registered: left alone (no approve, no decline).
    const other = emu.addUser('Oscar');
    const foreign = emu.createGroup({ title: 'Someone else', creator: other });
    const link = emu.adminLink(foreign, other);
    emu.links.get(link)!.creates_join_request = true;
    const c0 = emu.calls.length;
    expect(emu.joinViaLink(alice, link)).toBe('requested');
    await h.run(2_000);
    expect(emu.calls.slice(c0).filter((c) => /ChatJoinRequest$/.test(c.method))).toEqual([]);
    expect(emu.pendingRequests(foreign)).toEqual([alice.id]);

    // An owner command in a group chat does nothing.
    const inGroup = emu.messagesTo(chatId).length;
    const ownerTexts = h.texts(owner.id).length;
    emu.sendToGroup(owner, chatId, `/addplan ${group.id} 1 CNY 1 Sneaky`);
    await h.run(2_000);
    expect(emu.messagesTo(chatId)).toHaveLength(inGroup);
    expect(h.texts(owner.id)).toHaveLength(ownerTexts);
    expect((await store.plans.list({ groupId: group.id })).map((p) => p.name)).toEqual(['Monthly']);
  });
});
