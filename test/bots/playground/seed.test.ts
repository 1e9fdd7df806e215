import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_CHAT_ID, DEMO_REVIEW_CHAT_ID, seedPlaygroundDemo } from '../../../bots/playground/seed.ts';
import { type Playground, startPlayground } from './harness.ts';

let pg: Playground;
afterEach(async () => {
  await pg?.close();
});

describe('seedPlaygroundDemo', () => {
  it('creates "Playground group" and a Monthly 9.90 CNY / 30 days plan once, through the use cases', async () => {
    pg = await startPlayground();
    const deps = pg.service.deps;
    const seeded = await seedPlaygroundDemo(deps);
    expect(seeded!.group).toMatchObject({ platform: 'playground', platformChatId: DEMO_CHAT_ID, title: 'Playground group' });
    expect(seeded!.plan).toMatchObject({ name: 'Monthly', priceMinor: 990, currency: 'CNY', durationDays: 30, groupIds: [seeded!.group.id], active: true });
    expect((await deps.store.audit.list({ subjectType: 'group', subjectId: String(seeded!.group.id) })).map((a) => a.action)).toEqual(['group.add']);

    // The join review's demo group (issue 17): review mode, one question, its own plan.
    expect(seeded!.review.group).toMatchObject({ platformChatId: DEMO_REVIEW_CHAT_ID, title: 'Reviewed club', joinMode: 'review' });
    expect(seeded!.review.plan).toMatchObject({ name: 'Club pass (reviewed)', priceMinor: 1990, groupIds: [seeded!.review.group.id] });
    expect((await deps.store.review.listQuestions(seeded!.review.group.id)).map((q) => q.text)).toEqual(['What brings you to the club?']);

    expect(await seedPlaygroundDemo(deps)).toBeNull();
    expect(await deps.store.groups.list()).toHaveLength(2);
    expect(await deps.store.plans.list()).toHaveLength(3);
    // Issue 16: the trial plan and the demo coupon.
    expect(seeded!.trial).toMatchObject({ name: 'Taster week', trialDays: 3, durationDays: 7, groupIds: [seeded!.group.id] });
    expect(await deps.store.coupons.findByCode('DEMO50')).toMatchObject({ percent: 50, planIds: [seeded!.plan.id] });

    const state = (await pg.service.app.inject({ method: 'GET', url: '/playground/api/state' })).json();
    expect(state.groups).toEqual([
      { id: seeded!.group.id, title: 'Playground group', chatId: DEMO_CHAT_ID, members: [] },
      { id: seeded!.review.group.id, title: 'Reviewed club', chatId: DEMO_REVIEW_CHAT_ID, members: [] },
    ]);
  });

  it('names the group and plan in DEFAULT_LOCALE: 体验群 / 月度会员 under zh-CN', async () => {
    pg = await startPlayground({ env: { DEFAULT_LOCALE: 'zh-CN' } });
    const seeded = await seedPlaygroundDemo(pg.service.deps);
    expect(seeded!.group.title).toBe('体验群');
    expect(seeded!.plan).toMatchObject({ name: '月度会员', priceMinor: 990, currency: 'CNY', durationDays: 30 });
    expect(seeded!.review.group.title).toBe('审核制俱乐部');
  });

  it('leaves an installation that already has a playground group alone', async () => {
    pg = await startPlayground();
    const headers = { authorization: 'Bearer test-admin-token-0123456789' };
    await pg.service.app.inject({ method: 'POST', url: '/api/groups', headers, payload: { platform: 'playground', chatId: 'mine', title: 'Mine' } });
    expect(await seedPlaygroundDemo(pg.service.deps)).toBeNull();
    expect((await pg.service.deps.store.groups.list()).map((g) => g.platformChatId)).toEqual(['mine']);
  });
});
