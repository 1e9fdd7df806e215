// The console's Broadcast page (issue 15 part 6) in a real browser: Debian's Chromium, driven by playwright-core,
// on a phone (390×844, zh-CN) and a desktop (1280×800, en). The service runs in this process on SQLite with
// the real web playground as its chat platform, dev payments and its worker running on real time, listening
// on 127.0.0.1. Three playground people pay with dev payments (the checkout page's "pay" POST, the same
// webhook path as a real provider); a fourth redeems a claim code and asks the bot for /console. The owner
// signs in with that link, writes a broadcast, reads the preview and the recipient count, confirms, sees
// the three messages waiting (the worker is held for that moment) and watches the page update itself until
// the progress reads "3 sent" (bounded). Each member's playground inbox then holds the message.
// Screenshots of each step go to test-results/screenshots/console-broadcast-*.png.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/app/clocks.ts';
import { loadConfig } from '../../src/config.ts';
import { createService, type Service } from '../../src/service.ts';
import { openTestDb, type TestDb } from '../helpers/db.ts';
import { freePort } from '../helpers/net.ts';
import { ADMIN_TOKEN, DEV_SECRET, memoryLogger } from '../helpers/service.ts';
import { expectFitsWidth, launchChromium, screenshotter, signInByLink, STEP, viewportContext, VIEWPORTS } from './console-helpers.ts';

interface Person {
  userId: string;
  token: string;
}

describe.each(VIEWPORTS)('console broadcast in Chromium ($name)', (vp) => {
  let db: TestDb;
  let service: Service;
  let browser: Browser;
  let base: string;
  let members: Person[];
  let owner: Person;
  let groupId: number;
  const shot = screenshotter('console-broadcast', vp);

  const api = async (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(STEP),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  /** Says something to the bot as this playground person; the bot's replies as text. */
  const say = async (p: Person, text: string) => JSON.stringify((await api('POST', '/playground/api/send', { userId: p.userId, text }, p.token)).replies);
  const inbox = async (p: Person) =>
    JSON.stringify((await api('GET', `/playground/api/state?userId=${encodeURIComponent(p.userId)}`, undefined, p.token)).history);

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    db = await openTestDb('sqlite');
    const config = loadConfig({
      DATA_DIR: '/nonexistent-test-data-dir',
      DATABASE_URL: db.url,
      ADMIN_TOKEN,
      DEV_PAY_SECRET: DEV_SECRET,
      PUBLIC_URL: base,
      TZ_DISPLAY: 'Asia/Shanghai',
    });
    service = await createService({ config, adminToken: ADMIN_TOKEN, devPaySecret: DEV_SECRET, store: db.store, clock: systemClock, logger: memoryLogger() });
    expect(service.playground).toBeDefined();
    await service.app.listen({ port, host: '127.0.0.1' });
    service.start();

    // A group and its plan, as an operator would make them.
    groupId = (await api('POST', '/api/groups', { platform: 'playground', chatId: 'book-club', title: vp.locale === 'zh-CN' ? '读书会' : 'Book club' }))
      .id as number;
    const planId = (await api('POST', '/api/plans', { groupIds: [groupId], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30 })).id as number;
    // Three people pay with dev payments: the checkout page's "pay" button posts a signed notification.
    members = [];
    for (const [name, locale] of [
      ['Alice', 'en'],
      ['Bob', 'en'],
      ['Chen', 'zh-CN'],
    ] as const) {
      const p = (await api('POST', '/playground/api/people', { name, locale })) as unknown as Person;
      const { orderId } = (await api('POST', '/api/checkouts', { platform: 'playground', userId: p.userId, planId, provider: 'dev' })) as { orderId: string };
      const paid = await fetch(`${base}/pay/${orderId}/dev-pay`, { method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(STEP) });
      expect(paid.status).toBeLessThan(400);
      members.push(p);
    }
    // Everyone is in (the worker delivered the invites).
    const deadline = Date.now() + STEP;
    for (;;) {
      const active = (await db.store.memberships.list({ groupId, status: 'active' })).length;
      if (active === 3) break;
      if (Date.now() > deadline) throw new Error(`only ${active} of 3 memberships active`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The owner: a playground person who redeems a claim code for the group.
    owner = (await api('POST', '/playground/api/people', { name: 'Olivia', locale: vp.locale })) as unknown as Person;
    const { code } = (await api('POST', '/api/owner-claims', { groupIds: [groupId] })) as { code: string };
    await say(owner, code);

    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await db?.close();
  });

  it('the owner signs in by the bot’s link, broadcasts to the group, watches progress reach 3 sent; each member got the text', async () => {
    const zh = vp.locale === 'zh-CN';
    const context = await viewportContext(browser, vp);
    const page = await context.newPage();

    // ---- the bot's /console answer carries the one-time link
    const answer = await say(owner, '/console');
    const link = new RegExp(`${base.replace(/[.:/]/g, '\\$&')}/console/login\\?token=[A-Za-z0-9_-]{43}`).exec(answer)?.[0];
    expect(link, answer).toBeDefined();
    await signInByLink(page, link!);

    // ---- compose: the group shows its 3 recipients
    await page.locator('nav.tabs a[href="/console/broadcast"]').click();
    await page.locator('#broadcast-form').waitFor();
    const option = (await page.locator('#broadcast-form select[name="group"] option').first().textContent())!.trim();
    expect(option).toMatch(zh ? /读书会 · 3 位收件人/ : /Book club · 3 recipients/);
    const text = zh ? `今晚八点线上读书会，链接稍后发出（${vp.name}）` : `Reading night at 8 pm tonight, the link follows (${vp.name})`;
    await page.locator('#broadcast-text').fill(text);
    expect(await page.locator('[data-count-for="broadcast-text"]').textContent()).toBe(`${text.length} / 2000`);
    await expectFitsWidth(page);
    await shot(page, '1-compose');

    // ---- the preview and the count, then confirm
    await page.locator('#broadcast-preview').click();
    await page.locator('#confirm-question').waitFor();
    expect(await page.locator('#confirm-question').textContent()).toMatch(zh ? /3 位会员/ : /3 members/);
    const bubbles = await page.locator('#broadcast-preview-box .bubble').allTextContents();
    expect(bubbles).toHaveLength(2); // Alice and Bob read English, Chen Chinese
    for (const b of bubbles) expect(b).toContain(text);
    await expectFitsWidth(page);
    await shot(page, '2-preview');
    // The worker holds off while the page opens, so the page first shows the three messages waiting and the
    // figures below can only come from console.js's polling, not from the page as the server rendered it.
    await service.worker.stop();
    await page.locator('#confirm-button').click();
    await page.waitForURL(/\/console\/broadcasts\/\d+\?done=broadcast$/);
    await page.locator('#done').waitFor();
    expect(await page.locator('#broadcast-progress [data-progress-url]').getAttribute('data-finished')).toBe('false');
    expect(await page.locator('#broadcast-progress [data-k="waiting"]').textContent()).toBe('3');
    expect(await page.locator('#broadcast-progress [data-k="sent"]').textContent()).toBe('0');
    await expectFitsWidth(page);
    await shot(page, '3-delivering');
    service.worker.start();

    // ---- live progress: console.js polls until nothing waits; bounded wait for "3 sent"
    await page.locator('#broadcast-progress [data-progress-url][data-finished="true"]').waitFor({ timeout: 2 * STEP });
    expect(await page.locator('#broadcast-progress [data-k="sent"]').textContent()).toBe('3');
    expect(await page.locator('#broadcast-progress [data-k="waiting"]').textContent()).toBe('0');
    expect(await page.locator('#broadcast-progress [data-k="failed"]').textContent()).toBe('0');
    await expectFitsWidth(page);
    await shot(page, '4-delivered');

    // ---- each of the three members received the text in their playground inbox
    for (const m of members) expect(await inbox(m)).toContain(text);
    expect(await inbox(owner)).not.toContain(text);

    // ---- the list of recent broadcasts shows it finished
    await page.locator('nav.tabs a[href="/console/broadcast"]').click();
    await page.locator('#broadcast-list [data-finished="true"]').first().waitFor();
    expect(await page.locator('#broadcast-list [data-k="sent"]').first().textContent()).toBe('3');
    await expectFitsWidth(page);
    await shot(page, '5-list');
    await context.close();
  });
});
