// Join review (issue 17, parts 1-5 and the review half of 7): a payment in a review group waits for the rules and
// the owner; approve grants from the approval time, reject refunds in full; the blacklist rejects at once; the
// window's timeout applies the group's action; one appeal; reminders at 24 h and 60 h; the bad input of the issue.
// Orders are seeded and paid through the use cases (the dev provider's signed notification).
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import type { Account } from '../../src/app/model.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import {
  addBlacklist,
  addQuestion,
  answerQuestion,
  appeal,
  applicationForMembership,
  approveApplication,
  listApplications,
  rejectApplication,
  removeQuestion,
  reviewCounts,
} from '../../src/app/review.ts';
import { updateGroupSettings } from '../../src/app/group-settings.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { RecordingGateway } from '../fakes/recording-gateway.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

async function rejects(p: Promise<unknown>, code: DomainError['code'], message: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  expect((err as DomainError).code).toBe(code);
  expect((err as DomainError).message).toMatch(message);
}

describe.each(DIALECTS)('join review (%s)', (dialect) => {
  const it = serviceTest(dialect);

  /** A review group with a plan, and a pending order of `userId`. */
  async function reviewOrder(deps: Parameters<typeof seedOrderDirect>[0], userId: string, opts: { chatId?: string; mode?: 'auto' | 'review' } = {}) {
    const first = await seedOrderDirect(deps, { userId, ...(opts.chatId ? { chatId: opts.chatId } : {}) });
    await updateGroupSettings(deps, { actor: admin, groupId: first.groupId, changes: { joinMode: opts.mode ?? 'review' } });
    return first;
  }

  const membershipOf = async (deps: Parameters<typeof seedOrderDirect>[0], orderId: string) => {
    const order = (await deps.store.orders.get(orderId))!;
    return (await deps.store.memberships.list({ accountId: order.accountId }))[0]!;
  };

  it('auto mode is unchanged: the payment grants at once and makes no application', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'alice', { mode: 'auto' });
    expect((await payDevDirect(deps, s.orderId)).outcome).toBe('granted');
    expect((await membershipOf(deps, s.orderId)).status).toBe('active');
    expect(await deps.store.review.findByOrder(s.orderId)).toBeNull();
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toHaveLength(1);
  });

  it('review mode: paid → awaiting_review with the verdicts recorded; approve grants from the approval, exactly once', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'alice');
    const paidAt = t.clock.now();
    expect((await payDevDirect(deps, s.orderId)).status).toBe('paid');
    const m = await membershipOf(deps, s.orderId);
    expect(m.status).toBe('awaiting_review');
    expect((await deps.store.memberships.list({ status: 'awaiting_review' })).map((x) => x.id)).toEqual([m.id]);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    expect(app.status).toBe('pending');
    expect(app.verdicts.map((v) => [v.rule, v.verdict])).toEqual([
      ['blacklist', 'pass'],
      ['payment', 'pass'],
      ['profile', 'pass'],
    ]);
    expect(app.deadline).toBe(paidAt + 72 * HOUR_MS);
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toHaveLength(0);
    // The member is told they wait; the owners (operators here: none) would get buttons.
    expect(t.gateway.of('text').some((c) => c.text.includes('/appeal'))).toBe(true);
    expect(await applicationForMembership(deps, admin, m.id)).toMatchObject({ id: app.id });

    await t.clock.advance(10 * HOUR_MS);
    const approvedAt = t.clock.now();
    expect((await approveApplication(deps, { actor: admin, applicationId: app.id })).status).toBe('approved');
    const after = await membershipOf(deps, s.orderId);
    expect(after.status).toBe('active');
    // The period starts at the approval, not at the payment: waiting cost the member nothing.
    expect(after.expiresAt).toBe(approvedAt + 30 * 24 * HOUR_MS);
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toHaveLength(1);
    await rejects(approveApplication(deps, { actor: admin, applicationId: app.id }), 'conflict', /already approved/);
    await rejects(rejectApplication(deps, { actor: admin, applicationId: app.id, reason: 'no' }), 'conflict', /already approved/);
    // Two approvals at once: one wins, the other is told.
    const s2 = await seedOrderDirect(deps, { userId: 'bob', planId: s.planId });
    await payDevDirect(deps, s2.orderId);
    const app2 = (await deps.store.review.findByOrder(s2.orderId))!;
    const both = await Promise.allSettled([
      approveApplication(deps, { actor: admin, applicationId: app2.id }),
      approveApplication(deps, { actor: admin, applicationId: app2.id }),
    ]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await deps.store.periods.listForOrder(s2.orderId)).length).toBe(1);
    expect((await reviewCounts(deps, admin)).approved).toBe(2);
  });

  it('a renewal while active in a review group extends without review', async ({ deps }) => {
    const s = await reviewOrder(deps, 'alice');
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    await approveApplication(deps, { actor: admin, applicationId: app.id });
    const before = await membershipOf(deps, s.orderId);
    const renewal = await seedOrderDirect(deps, { userId: 'alice', planId: s.planId });
    await payDevDirect(deps, renewal.orderId);
    expect(await deps.store.review.findByOrder(renewal.orderId)).toBeNull();
    expect((await membershipOf(deps, s.orderId)).expiresAt).toBe(before.expiresAt + 30 * 24 * HOUR_MS);
  });

  it('reject → full refund through the provider, membership out of awaiting_review, member told why; twice is refused', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'alice');
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    await rejects(rejectApplication(deps, { actor: admin, applicationId: app.id, reason: '  ' }), 'invalid_input', /needs a reason/);
    const rejected = await rejectApplication(deps, { actor: admin, applicationId: app.id, reason: 'not a club member' });
    expect(rejected).toMatchObject({ status: 'rejected', reason: 'not a club member', decidedBy: 'admin:cli' });
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('refund_pending');
    expect((await membershipOf(deps, s.orderId)).status).toBe('revoked');
    await t.service.worker.drain();
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('refunded');
    expect(t.gateway.of('text').some((c) => c.text.includes('not a club member'))).toBe(true);
    expect((await deps.store.audit.list({ subjectType: 'application', subjectId: String(app.id) })).map((a) => a.action)).toContain('review.reject');
    await rejects(rejectApplication(deps, { actor: admin, applicationId: app.id, reason: 'again' }), 'conflict', /already refunded/);
    // A rejected person may apply again later.
    const again = await seedOrderDirect(deps, { userId: 'alice', planId: s.planId });
    await payDevDirect(deps, again.orderId);
    expect((await membershipOf(deps, s.orderId)).status).toBe('awaiting_review');
  });

  it('rejecting an order that was refunded already is refused and changes nothing', async ({ t, deps }) => {
    const { requestRefund } = await import('../../src/app/refunds.ts');
    const s = await reviewOrder(deps, 'alice');
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    await requestRefund(deps, { actor: admin, orderId: s.orderId });
    await t.service.worker.drain();
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('refunded');
    await rejects(rejectApplication(deps, { actor: admin, applicationId: app.id, reason: 'no' }), 'conflict', /already refunded/);
    expect((await deps.store.review.getApplication(app.id))!.status).toBe('pending');
    // At the deadline the sweep closes it (nothing left to decide), the membership out of awaiting_review.
    await t.clock.advance(73 * HOUR_MS);
    await t.service.scheduler.tick();
    expect((await deps.store.review.getApplication(app.id))!).toMatchObject({ status: 'rejected', reason: 'order refunded' });
    expect((await membershipOf(deps, s.orderId)).status).toBe('revoked');
  });

  it('blacklist: a display-name pattern rejects and refunds at once; an invalid pattern is refused clearly', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'spam-1');
    await rejects(addBlacklist(deps, admin, { groupId: s.groupId, kind: 'name', value: '(unclosed' }), 'invalid_input', /not a valid pattern/);
    expect(await deps.store.review.listBlacklist({ global: true })).toEqual([]);
    await addBlacklist(deps, admin, { groupId: s.groupId, kind: 'user', platform: 'playground', value: 'spam-1', reason: 'spammer' });
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    expect(app.status).toBe('rejected');
    expect(app.verdicts[0]).toMatchObject({ rule: 'blacklist', verdict: 'fail' });
    expect(app.reason).toMatch(/spammer/);
    await t.service.worker.drain();
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('refunded');
    expect((await membershipOf(deps, s.orderId)).status).toBe('revoked');
    expect(t.gateway.of('invite')).toHaveLength(0);
  });

  it('questions: at most 5; a missing answer is asked for, an amended one re-runs the rules; a 10 kB answer is refused', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'alice');
    for (let i = 1; i <= 5; i++) await addQuestion(deps, admin, s.groupId, `Question ${i}?`);
    await rejects(addQuestion(deps, admin, s.groupId, 'Sixth?'), 'conflict', /already has 5 questions/);
    await removeQuestion(deps, admin, s.groupId, 5);
    await removeQuestion(deps, admin, s.groupId, 4);
    await removeQuestion(deps, admin, s.groupId, 3);
    const questions = await deps.store.review.listQuestions(s.groupId);
    const alice = (await deps.store.accounts.find('playground', 'alice'))!;
    await answerQuestion(deps, alice, questions[0]!.id, 'Ten years');
    await rejects(answerQuestion(deps, alice, questions[1]!.id, 'x'.repeat(10_000)), 'invalid_input', /at most 1000 characters/);
    await payDevDirect(deps, s.orderId);
    let app = (await deps.store.review.findByOrder(s.orderId))!;
    expect(app.verdicts[2]).toMatchObject({ rule: 'profile', verdict: 'fail', reason: '1 unanswered question' });
    await t.service.worker.drain();
    expect(t.gateway.of('text').some((c) => c.text.includes('Question 2?'))).toBe(true);
    await answerQuestion(deps, alice, questions[1]!.id, 'Via a friend');
    app = (await deps.store.review.findByOrder(s.orderId))!;
    expect(app.verdicts[2]).toMatchObject({ rule: 'profile', verdict: 'pass' });
    expect(app.answers.map((a) => a.answer)).toEqual(['Ten years', 'Via a friend']);
    expect(app.ownerTold).toBe(true);
  });

  it('autoApproveWhenRulesPass approves at once', async ({ deps }) => {
    const s = await reviewOrder(deps, 'alice');
    await updateGroupSettings(deps, { actor: admin, groupId: s.groupId, changes: { autoApproveWhenRulesPass: true } });
    await payDevDirect(deps, s.orderId);
    expect((await deps.store.review.findByOrder(s.orderId))!.status).toBe('approved');
    expect((await membershipOf(deps, s.orderId)).status).toBe('active');
  });

  it('one appeal within the window: a second one, or one after the window, is refused', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'alice');
    await updateGroupSettings(deps, { actor: admin, groupId: s.groupId, changes: { reviewWindowHours: 10 } });
    await payDevDirect(deps, s.orderId);
    const alice: Account = (await deps.store.accounts.find('playground', 'alice'))!;
    await rejects(appeal(deps, alice, 'x'.repeat(1001)), 'invalid_input', /at most 1000/);
    expect((await appeal(deps, alice, 'I am a member of the club')).appeal).toBe('I am a member of the club');
    await rejects(appeal(deps, alice, 'again'), 'conflict', /already sent your appeal/);
    // Bob's window runs out before he appeals.
    const b = await seedOrderDirect(deps, { userId: 'bob', planId: s.planId });
    await payDevDirect(deps, b.orderId);
    await t.clock.advance(11 * HOUR_MS);
    const bob = (await deps.store.accounts.find('playground', 'bob'))!;
    await rejects(appeal(deps, bob, 'please'), 'conflict', /window is over/);
  });

  it('timeout: the scheduler refunds (the default) or approves, once, and tells both sides; reminders at 24 h and 60 h once each', async ({ t, deps }) => {
    const s = await reviewOrder(deps, 'alice');
    const { code } = await createClaimCode(deps, admin, [s.groupId]);
    await redeemClaimCode(deps, { platform: 'playground', userId: 'owner', code });
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    await t.service.worker.drain();
    const ownerTexts = () => t.gateway.calls.filter((c) => c.op === 'choices' && c.userId === 'owner');
    expect(ownerTexts()).toHaveLength(1); // the application, with approve/reject buttons
    await t.clock.advance(25 * HOUR_MS);
    await t.service.scheduler.tick();
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(ownerTexts()).toHaveLength(2);
    await t.clock.advance(36 * HOUR_MS);
    await t.service.scheduler.tick();
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(ownerTexts()).toHaveLength(3);
    await t.clock.advance(12 * HOUR_MS);
    await t.service.scheduler.tick();
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await deps.store.review.getApplication(app.id))!.status).toBe('timed_out');
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('refunded');
    expect(ownerTexts()).toHaveLength(4);
    expect(t.gateway.of('text').some((c) => c.userId === 'alice' && c.text.includes('nobody decided'))).toBe(true);

    // A group that says approve.
    await updateGroupSettings(deps, { actor: admin, groupId: s.groupId, changes: { reviewTimeoutAction: 'approve' } });
    const b = await seedOrderDirect(deps, { userId: 'bob', planId: s.planId });
    await payDevDirect(deps, b.orderId);
    await t.clock.advance(73 * HOUR_MS);
    await t.service.scheduler.tick();
    expect((await membershipOf(deps, b.orderId)).status).toBe('active');
    expect((await deps.store.review.findByOrder(b.orderId))!.status).toBe('timed_out');
    const counts = await reviewCounts(deps, admin);
    expect(counts).toMatchObject({ applications: 2, timedOut: 2 });
  });

  it('an owner on a platform whose choices are a numbered text menu (WeChat) gets the application as text with 通过 / 拒绝', async ({ t, deps }) => {
    const wechat = new RecordingGateway('wechat', false);
    deps.gateways.set('wechat', wechat);
    const s = await reviewOrder(deps, 'alice');
    const { code } = await createClaimCode(deps, admin);
    await redeemClaimCode(deps, { platform: 'wechat', userId: 'wx-owner', code });
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    await t.service.worker.drain();
    expect(wechat.of('choices')).toEqual([]);
    const [alert] = wechat.of('text').filter((c) => c.userId === 'wx-owner');
    expect(alert!.text).toContain(`通过 ${app.id}`);
    expect(alert!.text).toContain(`拒绝 ${app.id}`);
  });

  it('a reviewer who is not an owner of that group is refused, and the list shows only their groups', async ({ deps }) => {
    const s = await reviewOrder(deps, 'alice');
    const other = await seedOrderDirect(deps, { userId: 'carol', chatId: 'room-2' });
    const { code } = await createClaimCode(deps, admin, [other.groupId]);
    const owner = await redeemClaimCode(deps, { platform: 'playground', userId: 'owner2', code });
    const stranger = await deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'stranger' }, 0);
    await payDevDirect(deps, s.orderId);
    const app = (await deps.store.review.findByOrder(s.orderId))!;
    const asOwner: Actor = { kind: 'account', accountId: owner.id };
    await rejects(approveApplication(deps, { actor: asOwner, applicationId: app.id }), 'forbidden', /not one of your groups/);
    await rejects(
      rejectApplication(deps, { actor: { kind: 'account', accountId: stranger.id }, applicationId: app.id, reason: 'x' }),
      'forbidden',
      /only an owner/,
    );
    expect(await listApplications(deps, asOwner, {})).toEqual([]);
    expect((await listApplications(deps, admin, { status: 'pending' })).map((a) => a.id)).toEqual([app.id]);
    await rejects(updateGroupSettings(deps, { actor: asOwner, groupId: s.groupId, changes: { joinMode: 'auto' } }), 'forbidden', /not one of your groups/);
    expect((await deps.store.review.getApplication(app.id))!.status).toBe('pending');
    // A scoped owner may blacklist in their own group only, never for every group.
    await rejects(addBlacklist(deps, asOwner, { groupId: null, kind: 'account', value: '1' }), 'forbidden', /only an owner/);
    await rejects(addBlacklist(deps, asOwner, { groupId: s.groupId, kind: 'account', value: '1' }), 'forbidden', /not one of your groups/);
    expect((await addBlacklist(deps, asOwner, { groupId: other.groupId, kind: 'account', value: '1' })).groupId).toBe(other.groupId);
  });
});
