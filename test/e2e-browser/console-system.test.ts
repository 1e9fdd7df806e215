// The console's System page in a real browser (Debian's Chromium via playwright-core), on a phone (390×844,
// zh-CN) and a desktop (1280×800, en): the operator follows the overview's failed-jobs card to the page, reads
// the health and the job counts, and retries a dead letter through the confirmation step. Screenshots go to
// test-results/screenshots/console-system-*.png.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { issueLoginLink } from '../../src/app/console-auth.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import type { NewJob } from '../../src/app/ports.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { freePort } from '../helpers/net.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { launchChromium, screenshotter, signInByLink, viewportContext, VIEWPORTS } from './console-helpers.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

/** A job given up on, as the worker leaves one after a refusal retrying cannot fix. */
async function deadLetter(deps: AppDeps, job: NewJob, error: string): Promise<number> {
  const now = deps.clock.now();
  await deps.store.jobs.enqueue([job], now);
  const [claimed] = await deps.store.jobs.claim('e2e', now, 60_000, 1);
  await deps.store.jobs.bury(claimed!.id, 'e2e', error, now);
  return claimed!.id;
}

describe.each(VIEWPORTS)('the System page in Chromium ($name)', (vp) => {
  let t: TestService;
  let browser: Browser;
  let base: string;
  let dead: number;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestService('sqlite', { PUBLIC_URL: base });
    await t.service.app.listen({ port, host: '127.0.0.1' });
    const deps = t.service.deps;
    const s = await seedOrderDirect(deps, { userId: 'alice', chatId: 'book-club' });
    await payDevDirect(deps, s.orderId);
    await t.service.worker.drain();
    const m = (await deps.store.memberships.list({}))[0]!;
    dead = await deadLetter(
      deps,
      { kind: 'invite', payload: { membershipId: m.id, expiresAt: m.expiresAt }, lane: 'invite', dedupeKey: 'e2e:invite' },
      'telegram rejected the request: chat not found',
    );
    await deadLetter(deps, { kind: 'reconcile_order', payload: { orderId: s.orderId }, lane: 'system', dedupeKey: 'e2e:reconcile' }, 'provider timed out');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('from the overview card to the System page, then a dead letter retried through the confirmation', async () => {
    const context = await viewportContext(browser, vp);
    const page: Page = await context.newPage();
    const zh = vp.locale === 'zh-CN';
    const snap = screenshotter('console-system', vp);
    const shot = (step: string) => snap(page, step);

    await signInByLink(page, (await issueLoginLink(t.service.deps, admin, null)).url);
    await page.locator('#card-dead a').click();
    await page.waitForURL(`${base}/console/system#dead-letters`);
    expect(await page.locator('#health-database').getAttribute('data-state')).toBe('ok');
    expect(await page.locator('#jobs-dead .v').textContent()).toBe('2');
    expect(await page.locator('[data-dead]').count()).toBe(2);
    if (zh) expect(await page.locator('h1').first().textContent()).toBe('系统');
    const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    expect(scroll).toBeLessThanOrEqual(width);
    await shot('1-page');

    await page.locator(`[data-retry="${dead}"]`).click();
    await page.locator('#confirm-question').waitFor();
    await shot('2-confirm');
    await page.locator('#confirm-button').dblclick();
    await page.locator('#done').waitFor();
    expect(await page.locator('[data-dead]').count()).toBe(1);
    expect((await t.service.deps.store.jobs.get(dead))!.status).not.toBe('dead');
    expect(await t.service.deps.store.audit.list({ subjectType: 'job', subjectId: String(dead) })).toHaveLength(1);
    await shot('3-retried');
    await context.close();
  });
});
