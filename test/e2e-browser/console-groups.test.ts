// The console's Groups page (issue 15 part 5) in a real browser: Debian's Chromium, driven by playwright-core,
// on a phone (390×844, zh-CN) and a desktop (1280×800, en). An owner of a playground group with a paid member
// and one person in the room without a membership signs in by a one-time link, opens the group from the list,
// changes the grace hours with the settings form, checks who is in the group, lets the intruder stay (after a
// confirmation) and whitelists one more person by id through the form. Screenshots of each step go to
// test-results/screenshots/console-groups-*.png. (The shared browser set-up: console-helpers.ts.)
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { issueLoginLink } from '../../src/app/console-auth.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { freePort } from '../helpers/net.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { expectFitsWidth, launchChromium, screenshotter, signInByLink, viewportContext, VIEWPORTS } from './console-helpers.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

describe.each(VIEWPORTS)('the console Groups page in Chromium ($name)', (vp) => {
  let t: TestService;
  let browser: Browser;
  let base: string;
  let groupId: number;
  let ownerId: number;
  const shot = screenshotter('console-groups', vp);

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestService('sqlite', { PUBLIC_URL: base, TZ_DISPLAY: 'Asia/Shanghai' });
    await t.service.app.listen({ port, host: '127.0.0.1' });
    const deps = t.service.deps;
    const s = await seedOrderDirect(deps, { userId: 'alice', price: '9.90', chatId: 'book-club' });
    await payDevDirect(deps, s.orderId);
    await t.service.worker.drain();
    groupId = s.groupId;
    // Someone in the room without a membership: the dry run finds them.
    t.gateway.roster('book-club').add('eve_1984');
    const { code } = await createClaimCode(deps, admin, [groupId]);
    ownerId = (await redeemClaimCode(deps, { platform: 'playground', userId: 'olga', displayName: 'Olga', code })).id;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('changes the grace hours and adds whitelist entries, each step on screen', async () => {
    const deps = t.service.deps;
    const context = await viewportContext(browser, vp);
    const page = await context.newPage();
    const zh = vp.locale === 'zh-CN';

    await signInByLink(page, (await issueLoginLink(deps, admin, ownerId)).url);

    // ---- the list of the owner's groups, and the daily digest
    await page.locator('nav.tabs a[href="/console/groups"]').click();
    await page.locator('#groups-table').waitFor();
    expect(await page.locator('h1').first().textContent()).toBe(zh ? '群组' : 'Groups');
    await expectFitsWidth(page);
    await shot(page, '1-list');

    // ---- the group's page: change the grace hours
    await page.locator(`[data-open="${groupId}"]`).click();
    await page.locator('#settings-form').waitFor();
    expect(await page.locator('#setting-graceHours').inputValue()).toBe(String((await deps.store.groups.get(groupId))!.graceMs / HOUR_MS));
    await expectFitsWidth(page);
    await shot(page, '2-group');
    await page.locator('#setting-graceHours').fill('36');
    await page.locator('#settings-save').click();
    await page.locator('#done').waitFor();
    expect(await page.locator('#done').textContent()).toBe(zh ? '设置已保存。' : 'Settings saved.');
    expect((await deps.store.groups.get(groupId))!.graceMs).toBe(36 * HOUR_MS);
    expect(await page.locator('#setting-graceHours').inputValue()).toBe('36');
    await shot(page, '3-saved');

    // ---- a bad value: one clear line, nothing saved
    await page.locator('#setting-graceHours').fill('-1');
    await page.locator('#settings-save').click();
    await page.locator('#error').waitFor();
    expect(await page.locator('#error').textContent()).toBe('grace hours must be a whole number of hours from 0 to 720 (got "-1")');
    expect((await deps.store.groups.get(groupId))!.graceMs).toBe(36 * HOUR_MS);
    await page.goBack();

    // ---- who is in the group: the dry run finds eve; let her stay after a confirmation
    await page.goto(`${base}/console/groups/${groupId}`);
    await page.locator('#dry-run').click();
    await page.locator('[data-intruder="1"]').waitFor();
    expect(await page.locator('[data-intruder="1"]').textContent()).toContain('eve_1984');
    await expectFitsWidth(page);
    await shot(page, '4-dry-run');
    await page.locator('[data-let-stay="1"]').click();
    await page.locator('#confirm-question').waitFor();
    expect(await page.locator('#confirm-question').textContent()).toContain('eve_1984');
    await expectFitsWidth(page);
    await shot(page, '5-confirm');
    await page.locator('#confirm-button').click();
    await page.locator('#done').waitFor();
    expect((await deps.store.roster.listWhitelist(groupId)).map((w) => w.userId)).toEqual(['eve_1984']);
    // On the report she is marked as staying, and nobody is left to remove.
    expect(await page.locator('[data-intruder="1"]').textContent()).toContain(zh ? '已在白名单' : 'whitelisted');
    expect(await page.locator('#remove-intruders').count()).toBe(0);

    // ---- one more by id, through the whitelist form
    await page.locator('#whitelist-who').fill('guest_speaker');
    await page.locator('#whitelist-add').click();
    await page.locator('#confirm-question').waitFor();
    await page.locator('#confirm-button').click();
    await page.locator('#done').waitFor();
    expect((await deps.store.roster.listWhitelist(groupId)).map((w) => w.userId).sort()).toEqual(['eve_1984', 'guest_speaker']);
    await page.locator('[data-whitelisted="guest_speaker"]').waitFor();
    await expectFitsWidth(page);
    await shot(page, '6-whitelist');
    await context.close();
  });
});
