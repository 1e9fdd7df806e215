// What the console's browser tests share: Debian's Chromium launched headless with the flags this machine needs,
// the two viewports every page is checked on (a 390×844 phone in Chinese, a 1280×800 desktop in English), a
// browser context for one of them, the "nothing wider than the screen" check, and where screenshots go.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { expect } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = join(ROOT, 'test-results', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Every wait inside a browser test is bounded by this. */
export const STEP = 15_000;

export const VIEWPORTS = [
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, locale: 'zh-CN' },
  { name: 'desktop', viewport: { width: 1280, height: 800 }, isMobile: false, locale: 'en' },
] as const;
export type Viewport = (typeof VIEWPORTS)[number];

/** Debian's Chromium (never a downloaded one), headless, without network chatter; creates the screenshot folder. */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
  });
}

/** A fresh context on this viewport, its language and touch, with STEP as every wait's bound. */
export async function viewportContext(browser: Browser, vp: Viewport): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: vp.viewport, isMobile: vp.isMobile, hasTouch: vp.isMobile, locale: vp.locale, deviceScaleFactor: 1 });
  context.setDefaultTimeout(STEP);
  return context;
}

/** Nothing on the page may be wider than the screen: no sideways scrolling on a phone. */
export async function expectFitsWidth(page: Page) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  expect(scroll).toBeLessThanOrEqual(width);
}

/** A full-page screenshot named `<prefix>-<viewport>-<step>.png`, from the top (the sticky header where a person sees it). */
export const screenshotter =
  (prefix: string, vp: Viewport) =>
  async (page: Page, step: string): Promise<void> => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, `${prefix}-${vp.name}-${step}.png`), fullPage: true });
  };

/** Opens a one-time sign-in link, presses "Sign in" (a GET never signs in) and waits for the overview. */
export async function signInByLink(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#sign-in').click();
  await page.waitForURL(new URL('/console', url).href);
}
