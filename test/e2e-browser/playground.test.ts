// The whole member story in a real browser: the service is started exactly as `npm start` starts it
// (the compiled dist/src/main.js, built first when stale; no chat tokens: SQLite, dev payments, playground,
// time travel) and Debian's Chromium, driven by playwright-core, plays two people on two phones. Every
// wait is on a condition with a bound; screenshots of each step go to test-results/screenshots/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, MAIN, ensureDist } from '../helpers/dist.ts';
import { freePort } from '../helpers/net.ts';

/** The demo group's badge (the seed also makes a review-mode group, "Reviewed club", with a badge of its own). */
const DEMO_BADGE = '[data-testid="membership-badge"][data-chat-id="demo-group"]';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Bound for anything the page should show after one action (a reply, an SSE push, a sweep). */
const STEP = 15_000;
const HOUR = 3_600_000;

// ------------------------------------------------------------------ the service

/** The environment of a fresh `npm start`: nothing of the caller's Gatekeeper settings leaks in. */
function serviceEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const skip =
    /^(DATABASE_URL|ADMIN_TOKEN|DEV_PAY_SECRET|PAYMENT_PROVIDERS|ALLOW_DEV_PAYMENTS|PLAYGROUND|GRACE_HOURS|REMINDER_OFFSETS_HOURS|SWEEP_CRON|ORDER_TTL_MINUTES|TZ_DISPLAY|DEFAULT_LOCALE|LOG_LEVEL|PUBLIC_URL|HOST|PORT|DATA_DIR|TELEGRAM_.*|WECHAT.*|ALIPAY_.*|STRIPE_.*|NODE_OPTIONS|VITEST.*|TEST_.*)$/;
  for (const [k, v] of Object.entries(process.env)) if (!skip.test(k)) env[k] = v;
  return {
    ...env,
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    TZ_DISPLAY: 'Asia/Shanghai',
    NODE_ENV: 'production',
  };
}

interface Service {
  url: string;
  dataDir: string;
  child: ChildProcess;
  output: () => string;
}

async function startService(): Promise<Service> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gk-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: serviceEnv(dataDir, port), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const output = () => out;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode} before answering /healthz:\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the service did not answer /healthz within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, dataDir, child, output };
}

async function stopService(s: Service): Promise<void> {
  const { child } = s;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
    }
  }
  rmSync(s.dataDir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ the page

const shot = async (page: Page, name: string) => {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
};

/** Nothing on the page may be wider than the phone: no sideways scrolling. */
async function expectFitsWidth(page: Page) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  expect(scroll).toBeLessThanOrEqual(width);
}

const botBubble = (page: Page, text: RegExp): Locator => page.locator('[data-testid="bubble"][data-from="bot"]', { hasText: text });

/** Waits for the bot's message matching `text` and returns its text. */
async function botSays(page: Page, text: RegExp, timeout = STEP): Promise<string> {
  const b = botBubble(page, text).last();
  await b.waitFor({ state: 'visible', timeout });
  return (await b.textContent()) ?? '';
}

/** The steps of a membership's end the bot has told this person, in chat order (each bubble matched once). */
async function stepsSeen(page: Page, steps: Array<[string, RegExp]>): Promise<string[]> {
  const texts = await page.locator('[data-testid="bubble"][data-from="bot"]').allTextContents();
  return texts.map((t) => steps.find(([, re]) => re.test(t))?.[0]).filter((x): x is string => x !== undefined);
}
const EN_STEPS: Array<[string, RegExp]> = [
  ['3 days', /ends on .*\b3 day/],
  ['1 day', /ends on .*\b1 day/],
  ['grace', /has ended\. You can stay until/],
  ['removed', /removed from the group/],
];
const ZH_STEPS: Array<[string, RegExp]> = [
  ['3 days', /到期.*还剩\s*3\s*天/],
  ['1 day', /到期.*还剩\s*1\s*天/],
  ['grace', /已到期.*可保留到/],
  ['removed', /移出/],
];

async function sendText(page: Page, text: string) {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('send-button').click();
}

const tab = (page: Page, name: 'chat' | 'groups' | 'tools') => page.getByTestId(`tab-${name}`).click();

async function createPerson(page: Page, name: string): Promise<string> {
  await page.getByTestId('name-input').fill(name);
  await page.getByTestId('create-person').click();
  const chip = page.locator('[data-testid="person-tab"][aria-selected="true"]', { hasText: name });
  await chip.waitFor({ timeout: STEP });
  const userId = await chip.getAttribute('data-user-id');
  expect(userId).toMatch(/^pg_[0-9a-f]{32}$/);
  return userId!;
}

/** Waits until the page's clock shows the server's clock moved by at least `hours`. */
async function travel(page: Page, hours: number) {
  const before = Number(await page.getByTestId('clock').getAttribute('data-offset'));
  await tab(page, 'tools');
  await page.getByTestId('time-travel-hours').fill(String(hours));
  await page.getByTestId('time-travel-go').click();
  await page.waitForFunction(([min]) => Number(document.querySelector('[data-testid="clock"]')?.getAttribute('data-offset')) >= min!, [before + hours * HOUR], {
    timeout: STEP,
  });
  await page.locator('#time-travel-go:not([disabled])').waitFor({ timeout: STEP });
}

/** Chooses the plan, waits for the new order's QR (not an earlier one) and pays in the checkout tab it opens. */
async function choosePlanAndPay(page: Page, context: BrowserContext, plan: Locator, label: string) {
  const before = await page.getByTestId('qr-image').count();
  await plan.click();
  const qr = page.getByTestId('qr-image').nth(before);
  await qr.waitFor({ state: 'visible', timeout: STEP });
  await page.waitForFunction((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0, await qr.elementHandle(), {
    timeout: STEP,
  });
  await shot(page, `${label}-qr`);
  const [checkout] = await Promise.all([context.waitForEvent('page', { timeout: STEP }), qr.click()]);
  await checkout.waitForLoadState('domcontentloaded', { timeout: STEP });
  expect(checkout.url()).toMatch(/\/pay\/[A-Za-z0-9_-]{22}$/);
  await expect(checkout.getByTestId('amount').textContent()).resolves.toMatch(/9\.90/);
  await expect(checkout.getByTestId('status').getAttribute('data-status')).resolves.toBe('pending');
  await shot(checkout, `${label}-checkout`);
  await checkout.getByTestId('dev-pay').click();
  await checkout.locator('[data-testid="status"][data-status="paid"]').waitFor({ timeout: STEP });
  // Paid: the QR and "open until" are gone and the page says what happens next.
  await checkout.getByTestId('next').waitFor({ timeout: STEP });
  await expect(checkout.getByTestId('qr').count()).resolves.toBe(0);
  await expect(checkout.getByTestId('open-until').count()).resolves.toBe(0);
  await shot(checkout, `${label}-checkout-paid`);
  await checkout.close();
}

// ------------------------------------------------------------------ the story

describe('playground in a browser: two people, payment, reminders, removal, renewal, owner', () => {
  let service: Service;
  let browser: Browser;
  let alice: { context: BrowserContext; page: Page; id: string };
  let bob: { context: BrowserContext; page: Page; id: string };

  const openPhone = async (width: number, height: number) => {
    const context = await browser.newContext({
      viewport: { width, height },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
      locale: 'en-US',
      timezoneId: 'Asia/Shanghai',
    });
    context.setDefaultTimeout(STEP);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${service.url}/playground`, { waitUntil: 'domcontentloaded' });
    await page.getByTestId('welcome').waitFor();
    return { context, page, errors };
  };

  beforeAll(ensureDist, DIST_TIMEOUT);
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    service = await startService();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    });
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    if (service) await stopService(service);
  });

  it('Alice picks the plan, pays on the checkout page the QR opens, and joins the group live', async () => {
    const phone = await openPhone(390, 844);
    const { page } = phone;
    await expect(page.getByTestId('clock').getAttribute('data-offset')).resolves.toBe('0');
    await shot(page, '01-welcome');
    await expectFitsWidth(page);

    const id = await createPerson(page, 'Alice');
    alice = { context: phone.context, page, id };
    await page.getByTestId('empty-chat').waitFor();
    await expect(page.locator(DEMO_BADGE).getAttribute('data-member')).resolves.toBe('false');

    await sendText(page, '/start');
    await botSays(page, /Hi Alice/);
    const plan = botBubble(page, /Pick a plan/)
      .last()
      .getByTestId('choice')
      .filter({ hasText: /Monthly/ });
    await plan.waitFor();
    await expect(plan.textContent()).resolves.toMatch(/9\.90.*30 days/);
    await shot(page, '02-alice-plans');
    await choosePlanAndPay(page, phone.context, plan, '03-alice');

    const confirmed = await botSays(page, /Payment received/);
    expect(confirmed).toMatch(/"Monthly" membership for .*Playground group.* is active until/);
    // The roster and the badge change through the event stream: nothing reloads the page.
    await page.locator(`${DEMO_BADGE}[data-member="true"]`).waitFor();
    await shot(page, '04-alice-paid-chat');
    await expectFitsWidth(page);

    await tab(page, 'groups');
    const group = page.getByTestId('group-row').filter({ hasText: 'Playground group' });
    await expect(group.getAttribute('data-member')).resolves.toBe('true');
    await expect(group.getByTestId('member-row').filter({ hasText: 'Alice' }).count()).resolves.toBe(1);
    await expect(group.getByTestId('member-count').textContent()).resolves.toBe('1 member');
    await shot(page, '05-alice-groups');
    await expectFitsWidth(page);
    await tab(page, 'chat');
    expect(phone.errors).toEqual([]);
  });

  it('Bob, on a smaller phone, has not paid: he sees he is not a member while Alice is on the roster', async () => {
    const phone = await openPhone(360, 740);
    const { page } = phone;
    const id = await createPerson(page, 'Bob');
    bob = { context: phone.context, page, id };
    await sendText(page, '/status');
    await botSays(page, /no membership yet/);
    await expect(page.locator(DEMO_BADGE).getAttribute('data-member')).resolves.toBe('false');
    await shot(page, '06-bob-unpaid-chat');
    await expectFitsWidth(page);

    await tab(page, 'groups');
    const group = page.getByTestId('group-row').filter({ hasText: 'Playground group' });
    await expect(group.getAttribute('data-member')).resolves.toBe('false');
    await group.getByTestId('member-row').filter({ hasText: 'Alice' }).waitFor();
    await expect(group.getByTestId('member-row').filter({ hasText: 'Bob' }).count()).resolves.toBe(0);
    await shot(page, '07-bob-groups');
    await expectFitsWidth(page);

    await tab(page, 'tools');
    await shot(page, '08-bob-tools');
    await expectFitsWidth(page);
    expect(phone.errors).toEqual([]);
  });

  it('+30 days in one jump walks through them: the 3-day and the 1-day reminder, then grace, as 30 real days would bring them', async () => {
    const { page } = alice;
    await travel(page, 30 * 24);
    await tab(page, 'chat');
    const three = await botSays(page, /\b3 day/);
    expect(three).toMatch(/Your membership of "Playground group" ends on .*Send \/renew/);
    const one = await botSays(page, /\b1 day/);
    // Its time names the zone, in an order no reader can misread.
    expect(one).toMatch(/Your membership of "Playground group" ends on \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} \(UTC\+8\): 1 day left\. Send \/renew/);
    await expect(page.getByTestId('clock').textContent()).resolves.toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} \(UTC\+8\)/);
    const grace = await botSays(page, /has ended\. You can stay until/);
    // Like every other time the bot shows, the end of the grace period is a date, not epoch milliseconds.
    expect.soft(grace, 'grace reminder shows a date').toMatch(/You can stay until \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} \(UTC\+8\)/);
    // Each once, in the order real time brings them; she is still in the group during grace.
    expect(await stepsSeen(page, EN_STEPS)).toEqual(['3 days', '1 day', 'grace']);
    await expect(page.locator(DEMO_BADGE).getAttribute('data-member')).resolves.toBe('true');
    await expect(page.getByTestId('clock').evaluate((e) => e.classList.contains('shifted'))).resolves.toBe(true);
    await shot(page, '09-alice-reminders-and-grace');
    await expectFitsWidth(page);
  });

  it('one more day: past the grace she is removed and told how to come back', async () => {
    const { page } = alice;
    await travel(page, 24);
    await tab(page, 'chat');
    const removed = await botSays(page, /removed from the group/);
    expect(removed).toMatch(/Renew any time with \/renew to come back/);
    expect(await stepsSeen(page, EN_STEPS)).toEqual(['3 days', '1 day', 'grace', 'removed']);
    await page.locator(`${DEMO_BADGE}[data-member="false"]`).waitFor();
    await shot(page, '11-alice-removed');
    await expectFitsWidth(page);

    await tab(page, 'groups');
    const group = page.getByTestId('group-row').filter({ hasText: 'Playground group' });
    await expect(group.getAttribute('data-member')).resolves.toBe('false');
    await expect(group.getByTestId('member-row').count()).resolves.toBe(0);
    await shot(page, '12-alice-groups-empty');
    await tab(page, 'chat');

    // Bob's phone (on another tab of its page) saw the roster change live as well.
    await bob.page.getByTestId('group-row').getByTestId('member-row').first().waitFor({ state: 'detached' });
  });

  it('renewing re-admits her', async () => {
    const { page, context } = alice;
    await sendText(page, '/renew');
    await botSays(page, /Renew with one of these plans/);
    const plan = botBubble(page, /Renew with one of these plans/)
      .last()
      .getByTestId('choice')
      .filter({ hasText: /Monthly/ });
    await shot(page, '13-alice-renew');
    await choosePlanAndPay(page, context, plan, '14-alice-renew');
    // A second confirmation, for the new period.
    await botBubble(page, /Payment received/)
      .nth(1)
      .waitFor();
    await page.locator(`${DEMO_BADGE}[data-member="true"]`).waitFor();
    await shot(page, '15-alice-renewed');

    await tab(page, 'groups');
    const group = page.getByTestId('group-row').filter({ hasText: 'Playground group' });
    await group.getByTestId('member-row').filter({ hasText: 'Alice' }).waitFor();
    await expect(group.getAttribute('data-member')).resolves.toBe('true');
    // …and Bob sees her back.
    await bob.page.getByTestId('group-row').getByTestId('member-row').filter({ hasText: 'Alice' }).waitFor({ state: 'attached' });
    await tab(page, 'chat');
  });

  it('the owner view: the admin token gives a claim code, sending it makes Alice an owner, /stats answers', async () => {
    const { page } = alice;
    const secrets = JSON.parse(readFileSync(join(service.dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    expect(secrets.ADMIN_TOKEN).toBeTruthy();

    // A non-owner's /stats gets the same answer as any unknown command.
    await sendText(page, '/stats');
    await botSays(page, /did not understand/);

    await tab(page, 'tools');
    await page.getByTestId('admin-token').fill('not-the-token-0000000000');
    await page.getByTestId('get-claim').click();
    await page.locator('[data-testid="owner-msg"]', { hasText: /not accepted/ }).waitFor();

    await page.getByTestId('admin-token').fill(secrets.ADMIN_TOKEN!);
    await page.getByTestId('get-claim').click();
    const code = page.getByTestId('claim-code');
    await code.waitFor({ state: 'visible' });
    const codeText = (await code.textContent())?.trim() ?? '';
    expect(codeText.length).toBeGreaterThan(8);
    await shot(page, '16-owner-code');
    await expectFitsWidth(page);

    await page.getByTestId('send-claim').click();
    await page.locator('body[data-view="chat"]').waitFor();
    await page.locator('[data-testid="bubble"][data-from="person"]', { hasText: codeText }).waitFor();
    await botSays(page, /You are now an owner/);

    await sendText(page, '/stats');
    const stats = await botSays(page, /with access, revenue/);
    expect(stats).toMatch(/\b1 member with access/);
    await shot(page, '17-owner-stats');
    await expectFitsWidth(page);
  });

  it('in Chinese, on a 360 px phone: 小红 sends 入群, pays, and one +30 days jump brings the 3-day and 1-day reminders and grace; a day later, removal', async () => {
    const context = await browser.newContext({
      viewport: { width: 360, height: 740 },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
    });
    context.setDefaultTimeout(STEP);
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${service.url}/playground?lang=zh-CN`, { waitUntil: 'domcontentloaded' });
      await expect(page.locator('html').getAttribute('lang')).resolves.toBe('zh-CN');
      await page.getByTestId('welcome').waitFor();
      await shot(page, '18-zh-welcome');
      await createPerson(page, '小红');
      await sendText(page, '入群');
      const plan = page
        .getByTestId('choice')
        .filter({ hasText: /Monthly|月/ })
        .last();
      await plan.waitFor();
      await expect(botBubble(page, /[\u4e00-\u9fff]/).count()).resolves.toBeGreaterThan(0);
      await expect(page.locator(DEMO_BADGE).getAttribute('data-member')).resolves.toBe('false');
      await shot(page, '19-zh-plans');
      await expectFitsWidth(page);
      await choosePlanAndPay(page, context, plan, '20-zh');
      await botSays(page, /已收到付款/);
      await page.locator(`${DEMO_BADGE}[data-member="true"]`).waitFor();

      await travel(page, 30 * 24);
      await tab(page, 'chat');
      await botSays(page, ZH_STEPS[2]![1]);
      expect(await stepsSeen(page, ZH_STEPS)).toEqual(['3 days', '1 day', 'grace']);
      await expect(page.locator(DEMO_BADGE).getAttribute('data-member')).resolves.toBe('true');
      await shot(page, '21-zh-reminders-and-grace');
      await expectFitsWidth(page);

      await travel(page, 24);
      await tab(page, 'chat');
      await botSays(page, ZH_STEPS[3]![1]);
      expect(await stepsSeen(page, ZH_STEPS)).toEqual(['3 days', '1 day', 'grace', 'removed']);
      await page.locator(`${DEMO_BADGE}[data-member="false"]`).waitFor();
      await shot(page, '22-zh-removed');
      await tab(page, 'groups');
      await shot(page, '23-zh-groups');
      await tab(page, 'tools');
      await shot(page, '24-zh-tools');
      await expectFitsWidth(page);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the edges on a 390 px phone: a 40-character name fits, blank messages are not sent, a cut message says so, and the clock goes back to real time', async () => {
    const phone = await openPhone(390, 844);
    const { page, context } = phone;
    try {
      // The field takes no more than the server's 40 characters.
      await page.getByTestId('name-input').fill('Maximiliana Wilhelmina Theodora von Habsburg-Lothringen');
      const typed = await page.getByTestId('name-input').inputValue();
      expect([...typed]).toHaveLength(40);
      await page.getByTestId('create-person').click();
      const chip = page.locator('[data-testid="person-tab"][aria-selected="true"]');
      await chip.waitFor();
      const box = (await chip.boundingBox())!;
      expect(box.width).toBeLessThanOrEqual(160);
      // Cut with an ellipsis, not wrapped or spilling: the name's box is narrower than its text.
      expect(await chip.locator('.name').evaluate((e) => getComputedStyle(e).textOverflow)).toBe('ellipsis');
      expect(await chip.locator('.name').evaluate((e) => e.scrollWidth > e.clientWidth)).toBe(true);
      await expectFitsWidth(page);

      // Blank messages go nowhere.
      const mine = page.locator('[data-testid="bubble"][data-from="person"]');
      await page.getByTestId('message-input').fill('');
      await expect(page.getByTestId('send-button').isDisabled()).resolves.toBe(true);
      await page.getByTestId('message-input').fill('   \t  ');
      await expect(page.getByTestId('send-button').isDisabled()).resolves.toBe(true);
      await page.getByTestId('message-input').press('Enter');
      await page.waitForTimeout(300);
      await expect(mine.count()).resolves.toBe(0);

      // A message over the limit is kept cut in the chat, and the bubble says so.
      await sendText(page, 'x'.repeat(4100));
      await page.locator('[data-testid="cut-note"]').waitFor();
      await expect(page.locator('[data-testid="cut-note"]').textContent()).resolves.toMatch(/4000 characters/);
      await expect(mine.count()).resolves.toBe(1);
      await shot(page, '25-edges-long-name-and-cut-message');
      await expectFitsWidth(page);

      // Back to real time.
      await tab(page, 'tools');
      await expect(page.getByTestId('clock').evaluate((e) => e.classList.contains('shifted'))).resolves.toBe(true);
      await page.getByTestId('time-travel-reset').click();
      await page.locator('[data-testid="clock"][data-offset="0"]').waitFor();
      await expect(page.getByTestId('clock').evaluate((e) => e.classList.contains('shifted'))).resolves.toBe(false);
      await expect(page.getByTestId('time-travel-reset').isDisabled()).resolves.toBe(true);
      await shot(page, '26-clock-reset');
      expect(phone.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('on a desktop the chat, the groups and the tools sit side by side', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'Asia/Shanghai' });
    context.setDefaultTimeout(STEP);
    try {
      const page = await context.newPage();
      await page.goto(`${service.url}/playground`, { waitUntil: 'domcontentloaded' });
      await createPerson(page, 'Dana');
      await sendText(page, '/start');
      await botSays(page, /Hi Dana/);
      for (const id of ['message-input', 'groups', 'time-travel', 'owner']) await page.getByTestId(id).waitFor({ state: 'visible' });
      await expect(page.getByTestId('tab-chat').isVisible()).resolves.toBe(false);
      await shot(page, '27-desktop');
      await expectFitsWidth(page);
    } finally {
      await context.close();
    }
  });
});
