// The console's Plans page and review rules (issue 15 part 5) in Debian's Chromium, on a phone (390×844, zh-CN)
// and a desktop (1280×800, en): an owner changes a plan's price (a confirmation step first) and sees the new
// price in the list; adds a join question and a blacklist entry. Screenshots go to
// test-results/screenshots/console-plans-*.png.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { issueLoginLink } from '../../src/app/console-auth.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { freePort } from '../helpers/net.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { expectFitsWidth, launchChromium, screenshotter, signInByLink, viewportContext, VIEWPORTS } from './console-helpers.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

describe.each(VIEWPORTS)('the console Plans page in Chromium ($name)', (vp) => {
  let t: TestService;
  let browser: Browser;
  let base: string;
  let planId: number;
  let groupId: number;
  let ownerId: number;
  const shot = screenshotter('console-plans', vp);

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestService('sqlite', { PUBLIC_URL: base });
    await t.service.app.listen({ port, host: '127.0.0.1' });
    const deps = t.service.deps;
    for (const userId of ['alice', 'bob']) {
      const s = await seedOrderDirect(deps, { userId, price: '9.90', chatId: 'book-club', ...(planId ? { planId } : {}) });
      await payDevDirect(deps, s.orderId);
      planId = s.planId;
      groupId = s.groupId;
    }
    await seedOrderDirect(deps, { userId: 'carol', price: '99', days: 365, chatId: 'book-club' });
    const owner = await redeemClaimCode(deps, { platform: 'playground', userId: 'olga', code: (await createClaimCode(deps, admin, [groupId])).code });
    ownerId = owner.id;
    await t.service.worker.drain();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('changes a plan’s price after confirming and shows it in the list; adds a join question and a blacklist entry', async () => {
    const deps = t.service.deps;
    const context = await viewportContext(browser, vp);
    const page = await context.newPage();
    const zh = vp.locale === 'zh-CN';

    await signInByLink(page, (await issueLoginLink(deps, admin, ownerId)).url);

    // ---- the list, then the plan's page with its price form
    await page.locator('nav.tabs a[href="/console/plans"]').click();
    await page.locator('#plans-table').waitFor();
    expect(await page.locator(`[data-price="${planId}"]`).textContent()).toContain('9.90');
    await expectFitsWidth(page);
    await shot(page, '1-list');
    await page.locator(`[data-change-price="${planId}"]`).click();
    await page.locator('#price-form').waitFor();
    await page.locator('#price-form input[name="price"]').fill('12.50');
    await page.locator('#price-form input[name="stars"]').fill('120');
    await expectFitsWidth(page);
    await shot(page, '2-plan');
    await page.locator('#price-save').click();
    await page.locator('#confirm-question').waitFor();
    expect(await page.locator('#confirm-question').textContent()).toMatch(zh ? /改为 .*12\.50/ : /to .*12\.50/);
    expect((await deps.store.plans.get(planId))!.priceMinor).toBe(990);
    await expectFitsWidth(page);
    await shot(page, '3-confirm');
    await page.locator('#confirm-button').click();
    await page.locator('#done').waitFor();
    expect(await page.locator('#done').textContent()).toBe(
      zh ? '价格已修改。新订单按新价格付款，已下的订单保持原价。' : 'Price changed. New orders pay the new price; orders already made keep theirs.',
    );
    const cell = (await page.locator(`[data-price="${planId}"]`).textContent())!;
    expect(cell).toContain('12.50');
    expect(cell).toContain('120 Stars');
    expect((await deps.store.plans.get(planId))!.priceMinor).toBe(1250);
    await expectFitsWidth(page);
    await shot(page, '4-list-after');

    // ---- review rules: a join question and a blacklist entry
    await page.locator('nav.tabs a[href="/console/review"]').click();
    await page.locator('#review-rules').click();
    await page.locator('#question-form input[name="text"]').fill(zh ? '您从哪里知道我们的？' : 'Where did you hear about us?');
    await page.locator('#question-add').click();
    await page.locator('#done').waitFor();
    expect(await page.locator('#questions li').count()).toBe(1);
    await page.locator('#blacklist-form select[name="kind"]').selectOption('name');
    await page.locator('#blacklist-form input[name="value"]').fill('spam.*bot');
    await page.locator('#blacklist-form input[name="reason"]').fill(zh ? '广告号' : 'ad accounts');
    await page.locator('#blacklist-add').click();
    await page.locator('#done').waitFor();
    expect(await page.locator('#blacklist [data-entry]').count()).toBe(1);
    await expectFitsWidth(page);
    await shot(page, '5-review-rules');
    await context.close();
  });
});
