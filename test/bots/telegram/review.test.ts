// The join review on Telegram (issue 17): a review group's payment waits; the owner gets the application with
// an inline keyboard and approves with the button; the member is then invited, and the bio their join request
// carries is stored on the application. The profile rule asks a member without a @username for one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { updateGroupSettings } from '../../../src/app/group-settings.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { type Harness, startTelegram } from './harness.ts';

describe.each(DIALECTS)('Telegram join review (%s)', (dialect) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startTelegram(dialect);
  });
  afterEach(async () => {
    await h.close();
  });

  it('approve button → invited; the join request bio is stored; a required username is asked for', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const { owner, chatId, group } = await h.groupOnSale();
    await updateGroupSettings(h.t.service.deps, {
      actor: { kind: 'admin', via: 'cli' },
      groupId: group.id,
      changes: { joinMode: 'review', requireUsername: true },
    });

    // No username: the profile rule fails and the member is asked to set one.
    const bob = emu.addUser('Bob', { language_code: 'en' });
    const bobOrder = await h.buyWithDev(bob);
    await h.until(() => h.texts(bob.id).some((x) => x.includes('Telegram username')), 'bob asked for a username');
    expect((await store.review.findByOrder(bobOrder))!.verdicts[2]).toMatchObject({ rule: 'profile', verdict: 'fail', reason: 'no Telegram username' });

    const alice = emu.addUser('Alice', { language_code: 'en', username: 'alice_reads' });
    const orderId = await h.buyWithDev(alice);
    const app = (await store.review.findByOrder(orderId))!;
    expect(app.verdicts.map((v) => v.verdict)).toEqual(['pass', 'pass', 'pass']);
    await h.until(
      () => emu.messagesTo(owner.id).some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.callback_data === `review:approve:${app.id}`)),
      'owner gets the application with buttons',
    );
    expect(h.texts(owner.id).find((x) => x.includes(`Application ${app.id}`))).toContain('@alice_reads');
    expect(emu.calls.some((c) => c.method === 'createChatInviteLink')).toBe(false);

    emu.press(owner, 'Approve');
    await h.until(() => h.texts(owner.id).some((x) => x.includes(`Application ${app.id} approved`)), 'owner told it is approved');
    await h.until(
      () => emu.messagesTo(alice.id).some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.url?.includes('t.me'))),
      'alice gets her link',
    );
    const link = emu.calls.find((c) => c.method === 'createChatInviteLink')!;
    expect(link).toBeDefined();
    const url = [...emu.links.keys()].find((l) => emu.links.get(l)!.chatId === chatId)!;
    expect(emu.joinViaLink(alice, url, { bio: 'Reads two books a week' })).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice approved into the group');
    expect((await store.review.getApplication(app.id))!.bio).toBe('Reads two books a week');
  });
});
