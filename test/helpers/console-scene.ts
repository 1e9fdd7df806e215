// A console test's scene (as in test/http/console.test.ts): two paid members in two playground groups, each group
// with its own owner; sign in by a one-time link (null: the operator) and GET/POST through app.inject as a browser would.
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { issueLoginLink } from '../../src/app/console-auth.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { payDevDirect, seedOrderDirect } from './fixtures.ts';
import type { TestService } from './service.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

export interface Browser {
  cookie: string;
  csrf: string;
}

export interface Res {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
}

async function paid(t: TestService, userId: string, chatId: string, price: string, currency: string) {
  const deps = t.service.deps;
  const s = await seedOrderDirect(deps, { userId, chatId, price, currency });
  await payDevDirect(deps, s.orderId);
  await t.service.worker.drain();
  return s;
}
export type Paid = Awaited<ReturnType<typeof paid>>;

export interface ConsoleScene {
  /** ann paid 9.90 CNY in room-1 (owner A's); ben paid 5.00 USD in room-2 (owner B's). */
  one: Paid;
  two: Paid;
  ownerA: number;
  ownerB: number;
  signIn: (accountId: number | null) => Promise<Browser>;
  get: (b: Browser | null, url: string) => Promise<Res>;
  post: (b: Browser | null, url: string, form: Record<string, string | string[]>) => Promise<Res>;
}

/**
 * A browser's requests through app.inject: GET and form POSTs with a session's cookie (a field posted once per
 * value of a list), and sign-in by a one-time link (null: the operator) as a browser does it, the CSRF token
 * read from a signed-in page.
 */
export function consoleClient(app: FastifyInstance, deps: AppDeps) {
  const get = (b: Browser | null, url: string) => app.inject({ method: 'GET', url, headers: b ? { cookie: b.cookie } : {} });
  const post = (b: Browser | null, url: string, form: Record<string, string | string[]>) => {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    return app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(b ? { cookie: b.cookie } : {}) },
      payload: body.toString(),
    });
  };
  const signIn = async (accountId: number | null): Promise<Browser> => {
    const link = await issueLoginLink(deps, admin, accountId);
    const token = new URL(link.url).searchParams.get('token')!;
    const res = await post(null, '/console/login', { token });
    expect(res.statusCode).toBe(303);
    const set = res.headers['set-cookie'];
    const line = (Array.isArray(set) ? set : [String(set ?? '')]).find((c) => c.startsWith('gk_console='))!;
    const cookie = line.split(';')[0]!;
    const page = await get({ cookie, csrf: '' }, '/console/audit');
    expect(page.statusCode).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    return { cookie, csrf };
  };
  return { get, post, signIn };
}

export async function consoleScene(t: TestService): Promise<ConsoleScene> {
  const deps: AppDeps = t.service.deps;
  const bot = createConversation(deps);
  const say = async (userId: string, text: string) =>
    (await bot.handle({ platform: 'playground', userId, text })).map((r: Reply) => ('text' in r ? r.text : '')).join('\n');
  const one = await paid(t, 'ann', 'room-1', '9.90', 'CNY');
  const two = await paid(t, 'ben', 'room-2', '5.00', 'USD');
  expect(await say('owner-a', (await createClaimCode(deps, admin, [one.groupId])).code)).toMatch(/You are now an owner/);
  expect(await say('owner-b', (await createClaimCode(deps, admin, [two.groupId])).code)).toMatch(/You are now an owner/);
  const ownerA = (await deps.store.accounts.find('playground', 'owner-a'))!.id;
  const ownerB = (await deps.store.accounts.find('playground', 'owner-b'))!.id;
  const { get, post, signIn } = consoleClient(t.service.app, deps);
  return { one, two, ownerA, ownerB, signIn, get, post };
}
