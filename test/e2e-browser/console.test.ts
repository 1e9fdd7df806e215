// The owner console (issue 15) in a real browser: Debian's Chromium, driven by playwright-core, on a phone
// (390×844, zh-CN) and a desktop (1280×800, en). The service runs in this process on SQLite with dev payments
// and listens on 127.0.0.1; a few dev payments, an order to refund and a join-review application are made
// through the same use cases as the admin API. The owner signs in with a one-time link (a reused link is
// refused), reads the overview (the chart is drawn and its numbers are GET /api/stats's), extends a member,
// refunds an order (a double click refunds once), approves an application and signs out. Screenshots of
// each step go to test-results/screenshots/console-*.png.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { updateGroupSettings } from '../../src/app/group-settings.ts';
import { issueLoginLink } from '../../src/app/console-auth.ts';
import { DAY_MS } from '../../src/domain/time.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { freePort } from '../helpers/net.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { expectFitsWidth, launchChromium, screenshotter, viewportContext, VIEWPORTS } from './console-helpers.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

describe.each(VIEWPORTS)('the owner console in Chromium ($name)', (vp) => {
  let t: TestService;
  let browser: Browser;
  let base: string;
  let paid: Array<{ orderId: string; membershipId: number; expiresAt: number; userId: string }>;
  let applicationId: number;
  const shot = screenshotter('console', vp);

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestService('sqlite', { PUBLIC_URL: base, TZ_DISPLAY: 'Asia/Shanghai' });
    await t.service.app.listen({ port, host: '127.0.0.1' });
    const deps = t.service.deps;
    paid = [];
    for (const [userId, price] of [
      ['alice', '9.90'],
      ['bob', '19.90'],
      ['carol', '9.90'],
    ] as const) {
      const s = await seedOrderDirect(deps, { userId, price, chatId: 'book-club' });
      await payDevDirect(deps, s.orderId);
      await t.clock.advance(DAY_MS / 3);
      const order = (await deps.store.orders.get(s.orderId))!;
      const m = (await deps.store.memberships.list({ accountId: order.accountId }))[0]!;
      paid.push({ orderId: s.orderId, membershipId: m.id, expiresAt: m.expiresAt, userId });
    }
    // A review group: dave's payment waits for the owner's decision.
    const r = await seedOrderDirect(deps, { userId: 'dave', price: '29.90', chatId: 'vip-room' });
    await updateGroupSettings(deps, { actor: admin, groupId: r.groupId, changes: { joinMode: 'review' } });
    await payDevDirect(deps, r.orderId);
    await t.service.worker.drain();
    applicationId = (await deps.store.review.findByOrder(r.orderId))!.id;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('signs in by link, reads the overview, extends, refunds once, approves, signs out', async () => {
    const deps = t.service.deps;
    const context = await viewportContext(browser, vp);
    const page = await context.newPage();
    const zh = vp.locale === 'zh-CN';

    // ---- sign in with a one-time link (the operator's, as `gatekeeper owner login-link` prints it)
    const link = await issueLoginLink(deps, admin, null);
    await page.goto(link.url);
    await shot(page, '1-sign-in');
    await page.locator('#sign-in').click();
    await page.waitForURL(`${base}/console`);

    // ---- the overview: the chart is drawn from GET /api/stats's numbers
    const chart = page.locator('#revenue-chart[data-drawn] canvas');
    await chart.first().waitFor();
    const drawn = await page
      .locator('#revenue-chart')
      .evaluate((el) => ({ n: el.getAttribute('data-drawn'), series: JSON.parse(el.getAttribute('data-series')!) }));
    const api = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(drawn.n).toBe('30');
    expect(drawn.series.minor).toEqual(api.daily.netMinor.CNY);
    expect(drawn.series.minor.reduce((a: number, b: number) => a + b, 0)).toBe(990 + 1990 + 990 + 2990);
    expect(await page.locator('#card-active .v').textContent()).toBe(String(api.activeMembers));
    expect(await page.locator('#zone').textContent()).toContain('Asia/Shanghai (UTC+8)');
    await expect(page.locator('[data-badge="review"]').textContent()).resolves.toBe('1');
    if (zh) expect(await page.locator('h1').first().textContent()).toBe('概览');
    await expectFitsWidth(page);
    await shot(page, '2-overview');

    // ---- the same link again: refused
    const other = await context.browser()!.newContext({ viewport: vp.viewport, locale: vp.locale });
    const again = await other.newPage();
    await again.goto(link.url);
    await again.locator('#sign-in').click();
    await again.locator('.signin').waitFor();
    expect(await again.locator('.signin').textContent()).toMatch(zh ? /已被使用/ : /already used/);
    await shot(again, '3-link-reused');
    await other.close();

    // ---- members: find alice, extend by 7 days with a confirmation step
    await page.locator('nav.tabs a[href="/console/members"]').click();
    await page.locator('input[name="q"]').fill('alice');
    await page.locator('#member-filters button[type="submit"]').click();
    await page.waitForURL(/q=alice/);
    await expectFitsWidth(page);
    await shot(page, '4-members');
    await page.goto(`${base}/console/members/${paid[0]!.membershipId}`);
    await page.locator('#extend-form input[name="days"]').fill('7');
    await page.locator('#extend-form input[name="reason"]').fill('thanks for the feedback');
    await page.locator('#extend-button').click();
    await page.locator('#confirm-question').waitFor();
    await expectFitsWidth(page);
    await shot(page, '5-extend-confirm');
    await page.locator('#confirm-button').click();
    await page.locator('#done').waitFor();
    expect((await deps.store.memberships.get(paid[0]!.membershipId))!.expiresAt).toBe(paid[0]!.expiresAt + 7 * DAY_MS);
    await expectFitsWidth(page);
    await shot(page, '6-member-extended');

    // ---- refund bob's order; the confirmation pressed twice refunds once
    await page.goto(`${base}/console/orders/${paid[1]!.orderId}`);
    await page.locator('#refund-button').click();
    await page.locator('#confirm-question').waitFor();
    await shot(page, '7-refund-confirm');
    await page.locator('#confirm-button').dblclick();
    await page.locator('#done').waitFor();
    await t.service.worker.drain();
    const refunds = (await deps.store.payments.listForOrder(paid[1]!.orderId)).filter((p) => p.kind === 'refund');
    expect(refunds).toHaveLength(1);
    expect((await deps.store.orders.get(paid[1]!.orderId))!.status).toBe('refunded');
    await page.reload();
    await expectFitsWidth(page);
    await shot(page, '8-order-refunded');

    // ---- the review queue: approve dave's application
    await page.locator('nav.tabs a[href="/console/review"]').click();
    await page.locator(`[data-application="${applicationId}"]`).waitFor();
    await expectFitsWidth(page);
    await shot(page, '9-review-queue');
    await page.locator(`[data-app-approve="${applicationId}"]`).click();
    await page.locator('#confirm-question').waitFor();
    await page.locator('#confirm-button').click();
    await page.locator('#done').waitFor();
    expect((await deps.store.review.getApplication(applicationId))!.status).toBe('approved');
    await expectFitsWidth(page);
    await shot(page, '10-review-approved');

    // ---- plans: the plans with their sales
    await page.locator('nav.tabs a[href="/console/plans"]').click();
    await page.locator('#plans-table').waitFor();
    await expectFitsWidth(page);
    await shot(page, '11-plans');

    // ---- growth: this month's figures, a coupon made with the form, top referrers
    await page.locator('nav.tabs a[href="/console/growth"]').click();
    await page.locator('#card-trials').waitFor();
    await page.locator('#coupon-form input[name="code"]').fill('SPRING');
    await page.locator('#coupon-form input[name="percent"]').fill('20');
    await page.locator('#coupon-form select[name="plan"] option').first().waitFor({ state: 'attached' });
    await page.locator('#coupon-form select[name="plan"]').selectOption({ index: 0 });
    await page.locator('#coupon-add').click();
    await page.locator('#done').waitFor();
    expect(await page.locator('[data-uses="SPRING"]').textContent()).toBe('0 / ∞');
    expect((await deps.store.coupons.findByCode('SPRING'))!.percent).toBe(20);
    await expectFitsWidth(page);
    await shot(page, '11b-growth');

    // ---- history: the audit log names what the console did
    await page.locator('nav.tabs a[href="/console/audit"]').click();
    await page.locator('#audit-log').waitFor();
    expect(await page.locator('#audit-log').textContent()).toContain('membership.extend_by_owner');
    await expectFitsWidth(page);
    await shot(page, '12-audit');

    // ---- sign out: the cookie no longer opens the console
    await page.locator('#sign-out').click();
    await page.locator('.signin').waitFor();
    await shot(page, '13-signed-out');
    await page.goto(`${base}/console/members`);
    await page.waitForURL(`${base}/console`);
    expect(await page.locator('.signin h1').textContent()).toBe(zh ? '群主控制台' : 'Owner console');
    await context.close();
  });
});
