// Issue 21 in a real browser: Debian's Chromium with WeChat's User-Agent opens a WeChat Pay order's pay page.
// The service (in this process, SQLite, against the strict WeChat Pay and Official Account emulators over real
// HTTP) sends it through snsapi_base and back, and the page calls WeixinJSBridge.invoke('getBrandWCPayRequest').
// The injected WeixinJSBridge stub plays WeChat's cashier: it checks paySign with the merchant's public key
// (WebCrypto, RSASSA-PKCS1-v1_5 SHA-256 over appId\ntimeStamp\nnonceStr\npackage\n), then pays through the
// emulator, whose notification confirms the order; the page turns to "paid". Screenshots go to
// test-results/screenshots/.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WechatMpEmulator } from '../fakes/wechat-mp-emulator.ts';
import { makeWechatPayTestKeys, WechatPayEmulator, type WechatPayTestKeys } from '../fakes/wechatpay-emulator.ts';
import { freePort } from '../helpers/net.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { UA } from '../helpers/user-agents.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STEP = 15_000;
const MP_APPID = 'wx5566778899aabbcc';
const OPENID = 'oPayer_browser_0123456789';

/** The stub WeChat's in-app browser would provide; `merchantSpki` is the merchant public key (base64 DER). */
function bridgeStub(merchantSpki: string): string {
  return `
(() => {
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  window.__jsapi = [];
  window.WeixinJSBridge = {
    invoke(name, params, callback) {
      (async () => {
        const entry = { name, params, verified: false, result: null };
        window.__jsapi.push(entry);
        if (name !== 'getBrandWCPayRequest' || params.signType !== 'RSA') return callback({ err_msg: name + ':fail' });
        const key = await crypto.subtle.importKey('spki', b64(${JSON.stringify(merchantSpki)}), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
        const message = new TextEncoder().encode(params.appId + '\\n' + params.timeStamp + '\\n' + params.nonceStr + '\\n' + params.package + '\\n');
        entry.verified = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, b64(params.paySign), message);
        if (!entry.verified) return callback({ err_msg: 'get_brand_wcpay_request:fail' });
        entry.result = await window.wechatCashierPay(params);
        callback({ err_msg: entry.result === 'ok' ? 'get_brand_wcpay_request:ok' : 'get_brand_wcpay_request:fail' });
      })();
    },
  };
})();`;
}

describe('paying inside WeChat in Chromium (JSAPI)', () => {
  let keys: WechatPayTestKeys;
  let t: TestService;
  let emu: WechatPayEmulator;
  let mp: WechatMpEmulator;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    keys = makeWechatPayTestKeys();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    emu = await WechatPayEmulator.start({ ...keys.emulatorOptions(() => t.clock.now()), mpAppid: MP_APPID });
    mp = await WechatMpEmulator.start({
      appid: MP_APPID,
      secret: 'abcdef0123456789abcdef0123456789',
      authorizedHost: `127.0.0.1:${port}`,
      openid: OPENID,
      now: () => t.clock.now(),
    });
    t = await startTestService('sqlite', {
      PAYMENT_PROVIDERS: 'wechatpay',
      PUBLIC_URL: base,
      ...keys.env(emu.url),
      WECHAT_MP_APPID: MP_APPID,
      WECHAT_MP_SECRET: 'abcdef0123456789abcdef0123456789',
      WECHAT_MP_OAUTH_BASE: mp.url,
      WECHAT_MP_API_BASE: mp.url,
    });
    await t.service.app.listen({ port, host: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await emu?.close();
    await mp?.close();
    keys?.cleanup();
  });

  it('signs in with snsapi_base, calls getBrandWCPayRequest with a paySign the merchant key verifies, pays, and shows "paid"; the member is active', async () => {
    const api = (method: 'GET' | 'POST', url: string, payload?: object) => t.service.app.inject({ method, url, headers: auth, payload });
    const group = (await api('POST', '/api/groups', { platform: 'playground', chatId: 'room-1', title: '读书会' })).json().id;
    const plan = (await api('POST', '/api/plans', { groupIds: [group], name: '读书会 月卡', price: '9.90', currency: 'CNY', days: 30, force: true })).json().id;
    const checkout = await api('POST', '/api/checkouts', { platform: 'playground', userId: 'alice', planId: plan, provider: 'wechatpay' });
    expect(checkout.statusCode, checkout.body).toBe(201);
    const orderId = checkout.json().orderId as string;

    const context = await browser.newContext({
      userAgent: UA.wechat,
      viewport: { width: 390, height: 780 },
      deviceScaleFactor: 1,
      isMobile: true,
      hasTouch: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
    });
    context.setDefaultTimeout(STEP);
    const spki = keys.merchantPublicKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    await context.addInitScript(bridgeStub(spki));
    // WeChat's cashier: the emulator checks paySign again (with the official SDK) and takes the money;
    // its notification goes to the service over real HTTP.
    // The person confirms in the cashier only once the test has looked at the page.
    let confirm!: () => void;
    const paid: number[] = [];
    const confirmed = new Promise<void>((r) => (confirm = r));
    await context.exposeFunction('wechatCashierPay', async (params: Parameters<WechatPayEmulator['jsapiPay']>[0]) => {
      await confirmed;
      const n = emu.jsapiPay(params);
      const answer = await emu.deliver(n);
      paid.push(answer.status);
      return answer.status === 204 ? 'ok' : `notification answered ${answer.status}`;
    });
    const page = await context.newPage();
    await page.goto(`${base}/pay/${orderId}`);
    // Back from the authorize page on our own origin, with the code exchanged and the JSAPI page shown.
    await page.locator('[data-testid="pay-here"][data-rail="jsapi"]').waitFor();
    expect(mp.authorizations).toEqual([expect.objectContaining({ status: 302, error: null })]);
    await page.waitForFunction(() => (window as unknown as { __jsapi: Array<{ verified: boolean }> }).__jsapi.some((c) => c.verified), null, { timeout: STEP });
    const calls = await page.evaluate(
      () => (window as unknown as { __jsapi: Array<{ verified: boolean; params: { appId: string; package: string } }> }).__jsapi,
    );
    expect(calls).toEqual([
      expect.objectContaining({ verified: true, params: expect.objectContaining({ appId: MP_APPID, package: expect.stringMatching(/^prepay_id=wx/) }) }),
    ]);
    await page.screenshot({ path: join(SHOTS, 'phone-jsapi-1-cashier.png') });
    confirm();

    await page.locator('[data-testid="status"][data-status="paid"]').waitFor({ timeout: STEP });
    expect(paid).toEqual([204]);
    await page.screenshot({ path: join(SHOTS, 'phone-jsapi-2-paid.png') });

    const members = (await api('GET', '/api/members')).json().items as Array<{ platformUserId: string; status: string }>;
    expect(members).toEqual([expect.objectContaining({ platformUserId: 'alice', status: 'active' })]);
    await context.close();
  });

  it('"pay on another device" shows the QR code inside WeChat', async () => {
    const api = (method: 'GET' | 'POST', url: string, payload?: object) => t.service.app.inject({ method, url, headers: auth, payload });
    const plan = ((await api('GET', '/api/plans')).json().items as Array<{ id: number }>)[0]!.id;
    const orderId = (await api('POST', '/api/checkouts', { platform: 'playground', userId: 'bob', planId: plan, provider: 'wechatpay' })).json()
      .orderId as string;
    const context = await browser.newContext({ userAgent: UA.wechat, viewport: { width: 390, height: 780 }, isMobile: true, locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(`${base}/pay/${orderId}?via=qr`);
    await page.locator('[data-testid="qr"]').waitFor({ timeout: STEP });
    const loaded = await page.locator('[data-testid="qr"]').evaluate((img) => (img as HTMLImageElement).naturalWidth);
    expect(loaded).toBeGreaterThan(100);
    await page.screenshot({ path: join(SHOTS, 'phone-jsapi-3-qr.png') });
    await context.close();
  });
});
