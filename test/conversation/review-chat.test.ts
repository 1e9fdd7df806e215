// The join review through the conversation engine (issue 17): the owner sets a group to review and asks
// questions in chat; a member answers them before paying, pays (the dev provider's signed notification) and
// waits; the owner decides with the approve button, or 通过 / 拒绝 <n> <reason>; one appeal; /blacklist.
import { describe, expect } from 'vitest';
import { createClaimCode } from '../../src/app/owners.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const textOf = (replies: Reply[]) =>
  replies
    .map((r) => (r.type === 'choices' ? [r.text, ...r.choices.map((c) => c.label)].join('\n') : 'text' in r ? r.text : r.type === 'image' ? r.caption : ''))
    .join('\n');

describe.each(DIALECTS)('join review in chat (%s)', (dialect) => {
  const it = serviceTest(dialect, { DEFAULT_LOCALE: 'en' });

  it('questions before paying, the owner approves with the button; 拒绝 refunds; one appeal; /blacklist', async ({ t, deps }) => {
    const bot = createConversation(deps);
    const say = async (userId: string, text: string) => textOf(await bot.handle({ platform: 'playground', userId, displayName: userId, text }));
    const press = async (userId: string, choice: string) => textOf(await bot.handle({ platform: 'playground', userId, choice }));
    // A group with a plan (seeded through the use cases), and its owner, who claims it in chat.
    const seeded = await seedOrderDirect(deps, { userId: 'seed' });
    const { code } = await createClaimCode(deps, { kind: 'admin', via: 'cli' }, [seeded.groupId]);
    expect(await say('owner', code)).toMatch(/owner/i);
    const g = seeded.groupId;

    expect(await say('owner', `/joinmode ${g} review`)).toMatch(/join mode: review/);
    expect(await say('owner', `/joinmode ${g} maybe`)).toMatch(/Usage: \/joinmode/);
    expect(await say('owner', `/questions ${g} add How did you hear about us?`)).toMatch(/Question added/);
    expect(await say('owner', `/questions ${g}`)).toMatch(/1\. How did you hear about us\?/);
    // A non-owner gets the unknown-command reply, nothing more.
    expect(await say('mallory', `/joinmode ${g} auto`)).not.toMatch(/join mode/);

    // The member picks the plan: the question first, then the QR code.
    const plans = await say('alice', '/plans');
    expect(plans).toMatch(/Monthly/);
    expect(await press('alice', `plan:${seeded.planId}`)).toMatch(/\(1\/1\): How did you hear about us\?/);
    expect(await say('alice', 'x'.repeat(10_000))).toMatch(/at most 1000 characters/);
    const paying = await say('alice', 'From a friend');
    expect(paying).toMatch(/your answer to "How did you hear about us\?" is saved/);
    expect(paying).toMatch(/9\.90/);
    const order = (await deps.store.orders.page({ status: 'pending', limit: 10 })).find((o) => o.accountId !== seeded.order.accountId)!;
    await payDevDirect(deps, order.id);
    await t.service.worker.drain();
    const app = (await deps.store.review.findByOrder(order.id))!;
    expect(app.answers).toEqual([{ questionId: expect.any(Number), question: 'How did you hear about us?', answer: 'From a friend' }]);

    // The owner got the application with approve/reject buttons.
    const alert = t.gateway.calls.find((c) => c.op === 'choices' && c.userId === 'owner');
    expect(alert && 'choices' in alert ? alert.choices.map((c) => c.value) : []).toEqual([`review:approve:${app.id}`, `review:reject:${app.id}`]);
    expect(alert && 'text' in alert ? alert.text : '').toMatch(/From a friend/);

    expect(await say('alice', '/status')).toMatch(/waiting for the owner's review/);
    expect(await say('alice', '/answer')).toMatch(/1\. How did you hear about us\?\n→ From a friend/);
    expect(await say('alice', '/answer 1 A friend from work')).toMatch(/is saved/);
    expect(await say('alice', '/answer 4 nothing')).toMatch(/there is no question 4/);
    // The member appeals once.
    expect(await say('alice', '申诉 I run the Shanghai chapter')).toMatch(/appeal was sent/);
    expect(await say('alice', '/appeal again')).toMatch(/already sent your appeal/);
    // Someone who is not an owner of that group presses the button: refused.
    expect(await press('mallory', `review:approve:${app.id}`)).not.toMatch(/approved/);
    expect(await press('owner', `review:approve:${app.id}`)).toMatch(new RegExp(`Application ${app.id} approved`));
    expect(await say('owner', `通过 ${app.id}`)).toMatch(/already approved/);
    await t.service.worker.drain();
    expect(t.gateway.of('invite').map((c) => c.userId)).toEqual(['alice']);

    // Bob pays too (no questions asked now: none unanswered? he has not answered: he is asked).
    expect(await press('bob', `plan:${seeded.planId}`)).toMatch(/How did you hear/);
    await say('bob', 'Search engine');
    const bobOrder = (await deps.store.orders.page({ status: 'pending', limit: 10 })).find((o) => o.id !== seeded.orderId)!;
    await payDevDirect(deps, bobOrder.id);
    const bobApp = (await deps.store.review.findByOrder(bobOrder.id))!;
    expect(await say('owner', `拒绝 ${bobApp.id} we only admit members of the club`)).toMatch(new RegExp(`Application ${bobApp.id} rejected`));
    await t.service.worker.drain();
    expect((await deps.store.orders.get(bobOrder.id))!.status).toBe('refunded');
    expect(t.gateway.of('text').some((c) => c.userId === 'bob' && c.text.includes('we only admit members of the club'))).toBe(true);
    expect(await say('owner', `拒绝 ${bobApp.id} again`)).toMatch(/already refunded/);

    // The blacklist from chat: an invalid pattern is refused clearly; a valid one rejects Carol at once.
    expect(await say('owner', `/blacklist ${g} add name [unclosed`)).toMatch(/not a valid pattern/);
    expect(await say('owner', `/blacklist ${g} add name ^carol spam`)).toMatch(/entry 1 added/);
    expect(await say('owner', '/blacklist')).toMatch(/#1 group \d+: name \^carol \(spam\)/);
    await press('carol', `plan:${seeded.planId}`);
    await say('carol', 'Twitter');
    const carolOrder = (await deps.store.orders.page({ status: 'pending', limit: 10 })).find((o) => o.id !== seeded.orderId)!;
    await payDevDirect(deps, carolOrder.id);
    expect((await deps.store.review.findByOrder(carolOrder.id))!.status).toBe('rejected');
    expect(await say('owner', '/applications')).toMatch(/No application is waiting/);
  });
});
