// The owner console (issue 15) over app.inject: sign-in by a one-time link (expired, reused, mistyped
// links refused), the session cookie's flags, sign-out and `owner logout --all`, idle expiry, CSRF on
// every POST, one owner's session never reaching another owner's members or orders, the confirmation
// step, extend with bad day counts, a double refund that refunds once, the review queue, CSV, and the
// overview's figures coming from the same definition as GET /api/stats.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { endAllSessions, issueLoginLink, newPressKey } from '../../src/app/console-auth.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { addPlan } from '../../src/app/catalog-admin.ts';
import { createCoupon } from '../../src/app/coupons.ts';
import { banMember, createClaimCode, unbanMember } from '../../src/app/owners.ts';
import { startTrial } from '../../src/app/trials.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DAY_MS, MINUTE_MS } from '../../src/domain/time.ts';
import { type DevProvider } from '../../src/payments/dev/dev-provider.ts';
import { consoleClient } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth, type TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : '')).join('\n');

async function paid(t: TestService, userId: string, chatId: string, price: string, currency: string) {
  const deps = t.service.deps;
  const s = await seedOrderDirect(deps, { userId, chatId, price, currency });
  await payDevDirect(deps, s.orderId);
  await t.service.worker.drain();
  const order = (await deps.store.orders.get(s.orderId))!;
  const m = (await deps.store.memberships.list({ accountId: order.accountId }))[0]!;
  return { ...s, membershipId: m.id, expiresAt: m.expiresAt, accountId: order.accountId };
}
type Paid = Awaited<ReturnType<typeof paid>>;

interface Browser {
  cookie: string;
  csrf: string;
}

/** What the tests read of an inject() response. */
interface Res {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
}

interface Scene {
  one: Paid;
  two: Paid;
  ownerA: number;
  ownerB: number;
  say: (userId: string, text: string) => Promise<string>;
  /** Signs in with a fresh link for this account (null: the operator) and returns the cookie and CSRF token. */
  signIn: (accountId: number | null) => Promise<Browser>;
  get: (b: Browser | null, url: string) => Promise<Res>;
  post: (b: Browser | null, url: string, form: Record<string, string>) => Promise<Res>;
}

const cookieOf = (setCookie: string | string[] | number | undefined) => {
  const line = (Array.isArray(setCookie) ? setCookie : [String(setCookie ?? '')]).find((c) => c.startsWith('gk_console='))!;
  return line;
};

describe.each(DIALECTS)('owner console (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: Scene }>({
    scene: async ({ t }, use) => {
      const deps: AppDeps = t.service.deps;
      const bot = createConversation(deps);
      const say = async (userId: string, text: string) => textOf(await bot.handle({ platform: 'playground', userId, text }));
      const one = await paid(t, 'ann', 'room-1', '9.90', 'CNY');
      const two = await paid(t, 'ben', 'room-2', '5.00', 'USD');
      expect(await say('owner-a', (await createClaimCode(deps, admin, [one.groupId])).code)).toMatch(/You are now an owner/);
      expect(await say('owner-b', (await createClaimCode(deps, admin, [two.groupId])).code)).toMatch(/You are now an owner/);
      const ownerA = (await deps.store.accounts.find('playground', 'owner-a'))!.id;
      const ownerB = (await deps.store.accounts.find('playground', 'owner-b'))!.id;
      const app = t.service.app;
      const { get, post, signIn } = consoleClient(app, deps);
      await use({ one, two, ownerA, ownerB, say, signIn, get, post });
    },
  });

  describe('sign-in without a password', () => {
    it('a link opens a "Sign in" page without being used; pressing it sets an HttpOnly, SameSite=Strict cookie and the overview opens', async ({
      t,
      scene: { ownerA, get, post },
    }) => {
      const link = await issueLoginLink(t.service.deps, admin, ownerA);
      expect(link.url).toMatch(/^http:\/\/gk\.test\/console\/login\?token=[A-Za-z0-9_-]{43}$/);
      const token = new URL(link.url).searchParams.get('token')!;
      // A chat app's link preview fetches the link: that must not use it.
      const preview = await get(null, `/console/login?token=${token}`);
      expect(preview.statusCode).toBe(200);
      expect(preview.body).toContain('id="sign-in"');
      expect(preview.headers['content-security-policy']).toContain("script-src 'self'");
      expect(preview.headers['x-frame-options']).toBe('DENY');
      expect(preview.headers['referrer-policy']).toBe('same-origin');
      const res = await post(null, '/console/login', { token });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/console');
      const set = cookieOf(res.headers['set-cookie']);
      expect(set).toMatch(/HttpOnly/);
      expect(set).toMatch(/SameSite=Strict/);
      expect(set).toMatch(/Path=\/console/);
      expect(set).not.toMatch(/Secure/);
      const cookie = set.split(';')[0]!;
      // Only the hash of either secret is stored.
      const stored =
        JSON.stringify(await t.db.opened.db.selectFrom('console_sessions').selectAll().execute()) +
        JSON.stringify(await t.db.opened.db.selectFrom('console_login_links').selectAll().execute());
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(cookie.split('=')[1]);
      const overview = await get({ cookie, csrf: '' }, '/console');
      expect(overview.statusCode).toBe(200);
      expect(overview.body).toContain('id="card-active"');
      expect(overview.body).toContain(`Owner #${ownerA}`);
    });

    it('bad input: a reused, a mistyped and an expired link are each refused with their reason, and sign nobody in', async ({ t, scene: { ownerA, post } }) => {
      const deps = t.service.deps;
      const sessionsBefore = (await t.db.opened.db.selectFrom('console_sessions').selectAll().execute()).length;
      const link = await issueLoginLink(deps, admin, ownerA);
      const token = new URL(link.url).searchParams.get('token')!;
      expect((await post(null, '/console/login', { token })).statusCode).toBe(303);
      const reused = await post(null, '/console/login', { token });
      expect(reused.statusCode).toBe(400);
      expect(reused.body).toContain('This sign-in link was already used');
      expect(reused.headers['set-cookie']).toBeUndefined();
      const mistyped = await post(null, '/console/login', { token: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` });
      expect(mistyped.statusCode).toBe(400);
      expect(mistyped.body).toContain('This sign-in link is not valid');
      expect((await post(null, '/console/login', { token: 'nonsense' })).body).toContain('This sign-in link is not valid');
      const late = await issueLoginLink(deps, admin, ownerA);
      await t.clock.advance(10 * MINUTE_MS);
      const expired = await post(null, '/console/login', { token: new URL(late.url).searchParams.get('token')! });
      expect(expired.statusCode).toBe(400);
      expect(expired.body).toContain('This sign-in link has expired');
      expect((await t.db.opened.db.selectFrom('console_sessions').selectAll().execute()).length).toBe(sessionsBefore + 1);
    });

    it('the owner command /console sends a link that signs that owner in; a non-owner learns nothing', async ({ t, scene: { say, ownerA, post, get } }) => {
      const answer = await say('owner-a', '/console');
      const url = /http:\/\/gk\.test\/console\/login\?token=[A-Za-z0-9_-]{43}/.exec(answer)![0];
      expect(await say('owner-a', '控制台')).toMatch(/console\/login\?token=/);
      const res = await post(null, '/console/login', { token: new URL(url).searchParams.get('token')! });
      const cookie = cookieOf(res.headers['set-cookie']).split(';')[0]!;
      expect((await get({ cookie, csrf: '' }, '/console')).body).toContain(`Owner #${ownerA}`);
      expect(await say('mallory', '/console')).toBe(await say('mallory', '/frobnicate'));
      await expect(issueLoginLink(t.service.deps, { kind: 'account', accountId: ownerA }, null)).rejects.toThrow(/only an owner/);
      await expect(issueLoginLink(t.service.deps, admin, (await t.service.deps.store.accounts.find('playground', 'ann'))!.id)).rejects.toThrow(
        /is not an owner/,
      );
    });

    it('"Sign out" ends the session: the old cookie no longer opens anything; sign-out needs the CSRF token', async ({
      scene: { ownerA, signIn, get, post },
    }) => {
      const b = await signIn(ownerA);
      expect((await post(b, '/console/logout', {})).statusCode).toBe(403);
      expect((await get(b, '/console/members')).statusCode).toBe(200);
      const out = await post(b, '/console/logout', { _csrf: b.csrf });
      expect(out.statusCode).toBe(200);
      expect(out.body).toContain('You are signed out');
      expect(cookieOf(out.headers['set-cookie'])).toMatch(/gk_console=;/);
      const after = await get(b, '/console/members');
      expect(after.statusCode).toBe(303);
      expect(after.headers.location).toBe('/console');
      expect((await get(b, '/console')).body).toContain('Sign in with a one-time link');
      expect((await post(b, `/console/logout`, { _csrf: b.csrf })).statusCode).toBe(401);
    });

    it('`owner logout --all` ends every session; a session idle for CONSOLE_SESSION_DAYS ends by itself', async ({
      t,
      scene: { ownerA, ownerB, signIn, get },
    }) => {
      const a = await signIn(ownerA);
      const b = await signIn(ownerB);
      expect(await endAllSessions(t.service.deps, admin)).toBe(2);
      expect((await get(a, '/console/members')).statusCode).toBe(303);
      expect((await get(b, '/console/members')).statusCode).toBe(303);
      const c = await signIn(ownerA);
      await t.clock.advance(6 * DAY_MS);
      expect((await get(c, '/console/members')).statusCode).toBe(200);
      await t.clock.advance(6 * DAY_MS);
      expect((await get(c, '/console/members')).statusCode).toBe(200);
      await t.clock.advance(7 * DAY_MS);
      expect((await get(c, '/console/members')).statusCode).toBe(303);
    });
  });

  describe('one owner, their groups only', () => {
    it('another owner’s member or order in a URL is "not found", and an action on it changes nothing', async ({
      t,
      scene: { one, two, ownerA, signIn, get, post },
    }) => {
      const a = await signIn(ownerA);
      expect((await get(a, `/console/members/${one.membershipId}`)).statusCode).toBe(200);
      const foreign = await get(a, `/console/members/${two.membershipId}`);
      expect(foreign.statusCode).toBe(404);
      expect(foreign.body).toContain(`no member with id ${two.membershipId}`);
      expect((await get(a, `/console/orders/${two.orderId}`)).statusCode).toBe(404);
      const ext = await post(a, `/console/members/${two.membershipId}/extend`, { _csrf: a.csrf, days: '30', confirm: 'yes', _press: newPressKey() });
      expect(ext.statusCode).toBe(404);
      expect((await post(a, `/console/orders/${two.orderId}/refund`, { _csrf: a.csrf, confirm: 'yes' })).statusCode).toBe(404);
      expect(await t.service.deps.store.memberships.get(two.membershipId)).toMatchObject({ status: 'active', expiresAt: two.expiresAt });
      expect((await t.service.deps.store.orders.get(two.orderId))!.status).toBe('paid');
      const list = await get(a, '/console/members');
      expect(list.body).toContain('ann');
      expect(list.body).not.toContain('ben');
      const orders = await get(a, '/console/orders');
      expect(orders.body).toContain(one.orderId.slice(0, 8));
      expect(orders.body).not.toContain(two.orderId.slice(0, 8));
      const csv = await get(a, '/console/members.csv');
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(csv.body.split('\n')[0]).toBe('membershipId,accountId,platform,platformUserId,displayName,groupId,status,expiresAt');
      expect(csv.body).toContain('"ann"');
      expect(csv.body).not.toContain('"ben"');
      // The operator sees both.
      const op = await signIn(null);
      const all = await get(op, '/console/members');
      expect(all.body).toContain('ann');
      expect(all.body).toContain('ben');
    });

    it('bad input: a POST without the CSRF token, or with another session’s, is refused (403) and changes nothing', async ({
      t,
      scene: { one, ownerA, ownerB, signIn, post },
    }) => {
      const a = await signIn(ownerA);
      const b = await signIn(ownerB);
      const auditBefore = (await t.service.deps.store.audit.page({ limit: 1000 })).length;
      expect((await post(a, `/console/members/${one.membershipId}/extend`, { days: '30', confirm: 'yes' })).statusCode).toBe(403);
      expect((await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: b.csrf, days: '30', confirm: 'yes' })).statusCode).toBe(403);
      expect((await post(b, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '30', confirm: 'yes' })).statusCode).toBe(403);
      // Owner B's own session with its own token: owner A's member is still not theirs.
      expect((await post(b, `/console/members/${one.membershipId}/extend`, { _csrf: b.csrf, days: '30', confirm: 'yes' })).statusCode).toBe(404);
      expect((await post(null, `/console/orders/${one.orderId}/refund`, { confirm: 'yes' })).statusCode).toBe(401);
      // A form posted from another site's page, even with the right token, and a sign-in link posted from there.
      const crossSite = await t.service.app.inject({
        method: 'POST',
        url: `/console/members/${one.membershipId}/extend`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: a.cookie, origin: 'https://evil.example' },
        payload: new URLSearchParams({ _csrf: a.csrf, days: '30', confirm: 'yes' }).toString(),
      });
      expect(crossSite.statusCode).toBe(403);
      const sameSite = await t.service.app.inject({
        method: 'POST',
        url: `/console/members/${one.membershipId}/extend`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: a.cookie, origin: 'http://gk.test' },
        payload: new URLSearchParams({ _csrf: a.csrf, days: '30' }).toString(),
      });
      expect(sameSite.statusCode).toBe(200);
      expect(await t.service.deps.store.memberships.get(one.membershipId)).toMatchObject({ expiresAt: one.expiresAt });
      expect((await t.service.deps.store.audit.page({ limit: 1000 })).length).toBe(auditBefore);
    });
  });

  describe('finding members and orders', () => {
    it('search by name (any case, wildcards taken literally) or platform id; filter by group, status and "expiring within N days"', async ({
      t,
      scene: { one, signIn, get, ownerA },
    }) => {
      const deps = t.service.deps;
      const extra = await paid(t, '50%_off', 'room-1', '9.90', 'CNY');
      let op = await signIn(null);
      const ids = async (qs: string) => {
        const body = (await get(op, `/console/members?${qs}`)).body;
        const table = /id="members-table"[\s\S]*?<\/table>/.exec(body)?.[0] ?? '';
        return [...new Set([...table.matchAll(/href="\/console\/members\/(\d+)"/g)].map((m) => Number(m[1])))];
      };
      expect(await ids('q=ANN')).toEqual([one.membershipId]);
      expect(await ids('q=ann')).toEqual([one.membershipId]);
      expect(await ids(`q=${encodeURIComponent('50%')}`)).toEqual([extra.membershipId]);
      expect(await ids('q=%25')).toEqual([extra.membershipId]);
      expect(await ids('q=_')).toEqual([extra.membershipId]);
      expect(await ids(`group=${one.groupId}&status=active`)).toEqual([one.membershipId, extra.membershipId]);
      expect(await ids('status=banned')).toEqual([]);
      expect(await ids('expiring=7')).toEqual([]);
      await t.clock.advance(25 * 86_400_000);
      op = await signIn(null); // the old session lapsed (7 days idle)
      expect((await ids('expiring=7')).sort()).toEqual(
        [
          one.membershipId,
          extra.membershipId,
          (await deps.store.memberships.list({ groupId: (await deps.store.groups.findByChat('playground', 'room-2'))!.id }))[0]!.id,
        ].sort(),
      );
      // An owner's filter for a group not theirs is refused, not emptied.
      const a = await signIn(ownerA);
      const foreignGroup = (await deps.store.groups.findByChat('playground', 'room-2'))!.id;
      const res = await get(a, `/console/members?group=${foreignGroup}`);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain(`group ${foreignGroup} is not one of your groups`);
    });

    it('bad input: an unknown status, a day count that is not a number, a date that is not a date: one clear line', async ({ scene: { signIn, get } }) => {
      const op = await signIn(null);
      for (const [url, line] of [
        ['/console/members?status=gone', 'unknown status &#34;gone&#34;'],
        ['/console/members?expiring=soon', '&#34;expiring within&#34; must be a whole number'],
        ['/console/members?expiring=99999', '&#34;expiring within&#34; must be a whole number of days from 0 to 3660'],
        ['/console/orders?status=lost', 'unknown order status &#34;lost&#34;'],
        ['/console/orders?from=2026-02-30', '&#34;from&#34; must be a date like 2026-01-31'],
        ['/console/orders?from=2026-02-01&to=2026-01-01', 'the &#34;from&#34; date must be before the &#34;to&#34; date'],
      ] as const) {
        const res = await get(op, url);
        expect(res.statusCode, url).toBe(400);
        expect(res.body, url).toContain(line);
      }
    });

    it('orders filter by status, provider and the day they were made (in TZ_DISPLAY)', async ({ t, scene: { one, two, signIn, get } }) => {
      const op = await signIn(null);
      const ids = async (qs: string) =>
        [...(await get(op, `/console/orders?${qs}`)).body.matchAll(/<a href="\/console\/orders\/([A-Za-z0-9_-]+)">/g)].map((m) => m[1]);
      expect((await ids('status=paid')).sort()).toEqual([one.orderId, two.orderId].sort());
      expect(await ids('status=refunded')).toEqual([]);
      expect((await ids('provider=dev')).length).toBe(2);
      const made = new Date(t.clock.now() + 8 * 3_600_000).toISOString().slice(0, 10);
      expect((await ids(`from=${made}&to=${made}`)).length).toBe(2);
      expect(await ids('from=2030-01-01')).toEqual([]);
    });
  });

  describe('actions, each with a confirmation step', () => {
    it('after a POST (a refused action, a confirmation) the language switch opens a page that exists', async ({ scene: { one, ownerA, signIn, post } }) => {
      const a = await signIn(ownerA);
      const refused = await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '0' });
      expect(refused.statusCode).toBe(400);
      expect(refused.body).toContain('href="/console?lang=zh-CN"');
      expect(refused.body).not.toContain(`href="/console/members/${one.membershipId}/extend?lang=`);
    });

    it('every signed-in page renews the session cookie for CONSOLE_SESSION_DAYS from that use (idle expiry, not from the sign-in)', async ({
      scene: { ownerA, signIn, get },
    }) => {
      const a = await signIn(ownerA);
      const res = await get(a, '/console/members');
      const set = res.headers['set-cookie'];
      const line = (Array.isArray(set) ? set : [String(set ?? '')]).find((c) => c.startsWith('gk_console='));
      expect(line).toBeDefined();
      expect(line!.split(';')[0]).toBe(a.cookie);
      expect(line).toMatch(/Max-Age=604800/);
      expect(line).toMatch(/HttpOnly/);
      expect(line).toMatch(/SameSite=Strict/);
    });

    it('a confirmation pressed twice (double click, second tab) extends once; a stale or missing key changes nothing; a failed press can be pressed again', async ({
      t,
      scene: { one, ownerA, signIn, post, get },
    }) => {
      const deps = t.service.deps;
      const a = await signIn(ownerA);
      const ask = await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '30' });
      const press = /name="_press" value="([A-Za-z0-9_-]{22})"/.exec(ask.body)![1]!;
      const form = { _csrf: a.csrf, days: '30', confirm: 'yes', _press: press };
      const [first, second] = await Promise.all([
        post(a, `/console/members/${one.membershipId}/extend`, form),
        post(a, `/console/members/${one.membershipId}/extend`, form),
      ]);
      expect([first.headers.location, second.headers.location].sort()).toEqual([
        `/console/members/${one.membershipId}?done=again`,
        `/console/members/${one.membershipId}?done=extend`,
      ]);
      expect((await deps.store.memberships.get(one.membershipId))!.expiresAt).toBe(one.expiresAt + 30 * DAY_MS);
      expect((await get(a, `/console/members/${one.membershipId}?done=again`)).body).toContain('This was done already');
      // Without the confirmation's key (a hand-made POST) or with a malformed one: one line, nothing changes.
      for (const bad of [{}, { _press: 'x' }] as Array<Record<string, string>>) {
        const res = await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '30', confirm: 'yes', ...bad });
        expect(res.statusCode).toBe(400);
        expect(res.body).toContain('this confirmation is out of date');
      }
      expect((await deps.store.memberships.get(one.membershipId))!.expiresAt).toBe(one.expiresAt + 30 * DAY_MS);
      // A press whose action failed is forgotten: once the member is unbanned, the same page's confirm works.
      await banMember(deps, { actor: { kind: 'admin', via: 'cli' }, membershipId: one.membershipId });
      const key = newPressKey();
      expect((await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '5', confirm: 'yes', _press: key })).statusCode).toBe(409);
      await unbanMember(deps, { actor: { kind: 'admin', via: 'cli' }, membershipId: one.membershipId });
      const before = (await deps.store.memberships.get(one.membershipId))!.expiresAt;
      const retried = await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '5', confirm: 'yes', _press: key });
      expect(retried.headers.location).toBe(`/console/members/${one.membershipId}?done=extend`);
      expect((await deps.store.memberships.get(one.membershipId))!.expiresAt).toBe(Math.max(before, deps.clock.now()) + 5 * DAY_MS);
    });

    it('extend asks first, then extends by the days given through the same use case as the CLI', async ({ t, scene: { one, ownerA, signIn, post, get } }) => {
      const a = await signIn(ownerA);
      const ask = await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '30', reason: 'loyal' });
      expect(ask.statusCode).toBe(200);
      expect(ask.body).toContain('Extend ann’s membership of “Group room-1” by 30 days?');
      expect((await t.service.deps.store.memberships.get(one.membershipId))!.expiresAt).toBe(one.expiresAt);
      const done = await post(a, `/console/members/${one.membershipId}/extend`, {
        _csrf: a.csrf,
        days: '30',
        reason: 'loyal',
        confirm: 'yes',
        _press: newPressKey(),
      });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe(`/console/members/${one.membershipId}?done=extend`);
      expect((await t.service.deps.store.memberships.get(one.membershipId))!.expiresAt).toBe(one.expiresAt + 30 * DAY_MS);
      const audit = await t.service.deps.store.audit.list({ subjectType: 'membership', subjectId: String(one.membershipId) });
      expect(audit.find((e) => e.action === 'membership.extend_by_owner')).toMatchObject({ actor: `account:${ownerA}`, reason: 'loyal' });
      const page = await get(a, `/console/members/${one.membershipId}?done=extend`);
      expect(page.body).toContain('Extended. The member is told.');
      expect(page.body).toContain('membership.extend_by_owner');
    });

    it('bad input: extend by 0, −3, 100000 or "ten" days is refused with one clear line, before and after the confirmation step', async ({
      t,
      scene: { one, ownerA, signIn, post },
    }) => {
      const a = await signIn(ownerA);
      for (const days of ['0', '-3', '100000', 'ten', '']) {
        for (const confirm of ['', 'yes']) {
          const res = await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days, confirm });
          expect(res.statusCode, `${days} ${confirm}`).toBe(400);
          expect(res.body).toContain('days must be a whole number from 1 to 3660');
        }
      }
      expect((await t.service.deps.store.memberships.get(one.membershipId))!.expiresAt).toBe(one.expiresAt);
    });

    it('remove, ban and unban go through the use cases with the reason given', async ({ t, scene: { one, ownerA, signIn, post } }) => {
      const a = await signIn(ownerA);
      for (const verb of ['ban', 'unban', 'remove']) {
        const res = await post(a, `/console/members/${one.membershipId}/${verb}`, { _csrf: a.csrf, reason: `because ${verb}`, confirm: 'yes' });
        expect(res.statusCode, verb).toBe(303);
      }
      expect((await t.service.deps.store.memberships.get(one.membershipId))!.status).toBe('revoked');
      const actions = (await t.service.deps.store.audit.list({ subjectType: 'membership', subjectId: String(one.membershipId) })).map((e) => [
        e.action,
        e.reason,
      ]);
      expect(actions).toEqual(
        expect.arrayContaining([
          ['membership.ban', 'because ban'],
          ['membership.unban', 'because unban'],
          ['membership.remove', 'because remove'],
        ]),
      );
      // Removing again: the use case's reason, as a page.
      const again = await post(a, `/console/members/${one.membershipId}/remove`, { _csrf: a.csrf, confirm: 'yes' });
      expect(again.statusCode).toBe(409);
      expect(again.body).toContain('this membership is revoked, not in the group');
    });

    it('bad input: a refund confirmed twice (a double click) refunds once', async ({ t, scene: { one, ownerA, signIn, post } }) => {
      const a = await signIn(ownerA);
      const ask = await post(a, `/console/orders/${one.orderId}/refund`, { _csrf: a.csrf, reason: 'asked' });
      expect(ask.body).toContain('Refund 9.90 CNY of order');
      const form = { _csrf: a.csrf, reason: 'asked', confirm: 'yes' };
      const [first, second] = await Promise.all([
        post(a, `/console/orders/${one.orderId}/refund`, form),
        post(a, `/console/orders/${one.orderId}/refund`, form),
      ]);
      expect([first.statusCode, second.statusCode].sort()).toEqual([303, 409]);
      // The loser hears why: the refund is under way (or, racing on PostgreSQL, the order moved meanwhile).
      expect([first.body, second.body].join()).toMatch(
        new RegExp(`a refund for order ${one.orderId} is already in progress|order ${one.orderId} changed while refunding`),
      );
      const requests = (await t.service.deps.store.audit.list({ subjectType: 'order', subjectId: one.orderId })).filter(
        (e) => e.action === 'order.refund_request',
      );
      expect(requests).toHaveLength(1);
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(one.orderId))!.status).toBe('refunded');
      const refunds = (await t.service.deps.store.payments.listForOrder(one.orderId)).filter((p) => p.kind === 'refund');
      expect(refunds).toHaveLength(1);
    });

    it('the review queue shows a held order with the reason it is held; approving it grants the plan', async ({ t, scene: { ownerA, signIn, post, get } }) => {
      const deps = t.service.deps;
      const s = await seedOrderDirect(deps, { userId: 'cat', chatId: 'room-1' });
      const dev = deps.providers.get('dev') as DevProvider;
      const { body, headers } = dev.pay((await deps.store.orders.get(s.orderId))!, { amount_minor: 1 });
      await handleProviderEvent(deps, dev, await dev.parseWebhook(body, headers), body.toString('utf8'));
      expect((await deps.store.orders.get(s.orderId))!.status).toBe('review');
      const a = await signIn(ownerA);
      const queue = await get(a, '/console/review');
      expect(queue.body).toContain(`data-order="${s.orderId}"`);
      expect(queue.body).toMatch(/Held because: [^<]*amount/);
      expect(queue.body).toMatch(/data-badge="review">1</);
      const ask = await post(a, `/console/orders/${s.orderId}/approve`, { _csrf: a.csrf, back: 'review' });
      expect(ask.body).toContain('Approve order');
      const done = await post(a, `/console/orders/${s.orderId}/approve`, { _csrf: a.csrf, back: 'review', confirm: 'yes', reason: 'checked the bank' });
      expect(done.statusCode).toBe(303);
      expect(done.headers.location).toBe('/console/review?done=approve');
      expect((await deps.store.orders.get(s.orderId))!.status).toBe('paid');
      expect((await get(a, '/console/review')).body).toContain('No order is held.');
    });
  });

  describe('plans', () => {
    it('lists the plans of the session’s groups with their sales; creates one; takes one off sale after confirming', async ({
      t,
      scene: { one, two, ownerA, signIn, get, post },
    }) => {
      const deps = t.service.deps;
      const a = await signIn(ownerA);
      const list = await get(a, '/console/plans');
      expect(list.statusCode).toBe(200);
      expect(list.body).toContain(`data-plan="${one.planId}"`);
      expect(list.body).not.toContain(`data-plan="${two.planId}"`);
      expect(/data-sales="\d+">([\s\S]*?)<\/td>/.exec(list.body)![1]!.trim()).toBe('1 order, 9.90 CNY');
      const made = await post(a, '/console/plans', { _csrf: a.csrf, group: String(one.groupId), name: 'Yearly', price: '99', currency: 'cny', days: '365' });
      expect(made.statusCode).toBe(303);
      const yearly = (await deps.store.plans.list({ groupId: one.groupId })).find((p) => p.name === 'Yearly')!;
      expect(yearly).toMatchObject({ priceMinor: 9900, currency: 'CNY', durationDays: 365, active: true });
      const ask = await post(a, `/console/plans/${yearly.id}/disable`, { _csrf: a.csrf });
      expect(ask.body).toContain('Take “Yearly” off sale?');
      expect((await deps.store.plans.get(yearly.id))!.active).toBe(true);
      expect((await post(a, `/console/plans/${yearly.id}/disable`, { _csrf: a.csrf, confirm: 'yes' })).statusCode).toBe(303);
      expect((await deps.store.plans.get(yearly.id))!.active).toBe(false);
      // Another owner's plan: not found, still on sale.
      expect((await post(a, `/console/plans/${two.planId}/disable`, { _csrf: a.csrf, confirm: 'yes' })).statusCode).toBe(404);
      expect((await deps.store.plans.get(two.planId))!.active).toBe(true);
    });

    it('bad input: a price of 9.999, no name, 0 days, another owner’s group: one clear line, nothing saved', async ({
      t,
      scene: { one, two, ownerA, signIn, post },
    }) => {
      const deps = t.service.deps;
      const a = await signIn(ownerA);
      const before = (await deps.store.plans.list()).length;
      for (const [form, status, line] of [
        [
          { group: String(one.groupId), name: 'Odd', price: '9.999', currency: 'CNY', days: '30' },
          400,
          'price &#34;9.999&#34; has more than 2 decimal places for CNY',
        ],
        [{ group: String(one.groupId), name: '', price: '9.90', currency: 'CNY', days: '30' }, 400, 'plan name must be 1–100 characters'],
        [{ group: String(one.groupId), name: 'Zero', price: '9.90', currency: 'CNY', days: '0' }, 400, 'days must be a whole number from 1 to'],
        [{ group: String(two.groupId), name: 'Theirs', price: '9.90', currency: 'CNY', days: '30' }, 403, `group ${two.groupId} is not one of your groups`],
      ] as const) {
        const res = await post(a, '/console/plans', { _csrf: a.csrf, ...form });
        expect(res.statusCode, form.name).toBe(status);
        expect(res.body, form.name).toContain(line);
      }
      expect((await deps.store.plans.list()).length).toBe(before);
    });
  });

  describe('growth (issue 16)', () => {
    it('the figures are the ones GET /api/stats gives: a trial started and an access code redeemed this month', async ({
      t,
      scene: { one, ownerA, signIn, get, say },
    }) => {
      const deps = t.service.deps;
      const plan = await addPlan(deps, { groupIds: [one.groupId], name: 'Trial plan', price: '9.90', currency: 'CNY', days: 30, trialDays: 3, actor: admin });
      await createCoupon(deps, { code: 'FREE-ONE', percent: 100, planIds: [plan.id], actor: admin });
      await say('tina', '/start');
      await startTrial(deps, (await deps.store.accounts.find('playground', 'tina'))!, plan.id);
      const c = await t.service.app.inject({
        method: 'POST',
        url: '/api/checkouts',
        headers: auth,
        payload: { platform: 'playground', userId: 'cody', planId: plan.id, coupon: 'FREE-ONE' },
      });
      expect(c.statusCode).toBe(201);
      await t.service.worker.drain();
      const api = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
      expect(api.growth).toMatchObject({ trialsStarted: 1, couponsRedeemed: 1 });
      for (const b of [await signIn(null), await signIn(ownerA)]) {
        const page = await get(b, '/console/growth');
        expect(page.statusCode).toBe(200);
        expect(page.body).toContain('href="/console/growth" class="on"');
        const card = (id: string) =>
          new RegExp(`id="${id}"[\\s\\S]*?class="v">([\\s\\S]*?)</div>`)
            .exec(page.body)![1]!
            .replace(/<[^>]+>/g, '')
            .trim();
        expect(card('card-trials')).toBe(String(api.growth.trialsStarted));
        expect(card('card-conversion')).toBe(`${Math.round(api.growth.trialConversion * 1000) / 10} % (${api.growth.trialsConverted})`);
        expect(card('card-coupons')).toBe(String(api.growth.couponsRedeemed));
        const days = api.referrals.days;
        expect(card('card-rewards')).toBe(`${api.referrals.booked} rewards, ${days} ${days === 1 ? 'day' : 'days'}`);
        expect(page.body).toMatch(/data-uses="FREE-ONE">1 \/ ∞</);
      }
      // In Chinese too.
      expect((await get(await signIn(ownerA), '/console/growth?lang=zh-CN')).body).toContain('<h1>增长</h1>');
    });

    it('creates a coupon for the owner’s plan; bad input is one clear line and saves nothing; disables one only after confirming', async ({
      t,
      scene: { one, ownerA, signIn, get, post },
    }) => {
      const deps = t.service.deps;
      const a = await signIn(ownerA);
      const made = await post(a, '/console/coupons', {
        _csrf: a.csrf,
        code: 'spring',
        percent: '20',
        plan: String(one.planId),
        maxUses: '50',
        validUntil: '2099-12-31',
      });
      expect(made.statusCode).toBe(303);
      expect(made.headers.location).toBe('/console/growth?done=coupon_add');
      const spring = (await deps.store.coupons.findByCode('SPRING'))!;
      expect(spring).toMatchObject({ percent: 20, planIds: [one.planId], maxUses: 50, active: true, validUntil: Date.parse('2099-12-31') });
      const list = await get(a, '/console/growth?done=coupon_add');
      expect(list.body).toContain('id="done"');
      expect(list.body).toMatch(/data-coupon="SPRING"[\s\S]*?20 %[\s\S]*?data-uses="SPRING">0 \/ 50</);

      const before = (await deps.store.coupons.list({ limit: 1000 })).length;
      for (const [form, status, line] of [
        [{ code: 'ZERO', percent: '0', plan: String(one.planId) }, 400, 'percent must be a whole number from 1 to 100 (got 0)'],
        [{ code: 'OVER', percent: '101', plan: String(one.planId) }, 400, 'percent must be a whole number from 1 to 100 (got 101)'],
        [{ code: 'NOPLAN', percent: '10', plan: '999999' }, 404, 'no plan with id 999999'],
        [{ code: 'BIG', amount: '100', currency: 'CNY', plan: String(one.planId) }, 400, 'is more than plan'],
      ] as const) {
        const res = await post(a, '/console/coupons', { _csrf: a.csrf, ...form });
        expect(res.statusCode, form.code).toBe(status);
        expect(res.body, form.code).toMatch(/id="error">[^<\n]+</);
        expect(res.body, form.code).toContain(line);
      }
      expect((await deps.store.coupons.list({ limit: 1000 })).length).toBe(before);

      const ask = await post(a, '/console/coupons/SPRING/disable', { _csrf: a.csrf });
      expect(ask.statusCode).toBe(200);
      expect(ask.body).toContain('Disable coupon SPRING?');
      expect((await deps.store.coupons.findByCode('SPRING'))!.active).toBe(true);
      const yes = await post(a, '/console/coupons/SPRING/disable', { _csrf: a.csrf, confirm: 'yes' });
      expect(yes.statusCode).toBe(303);
      expect((await deps.store.coupons.findByCode('SPRING'))!.active).toBe(false);
      expect((await deps.store.audit.list({ subjectType: 'coupon', subjectId: String(spring.id) })).map((e) => e.action)).toEqual(
        expect.arrayContaining(['coupon.create', 'coupon.disable']),
      );
    });

    it('a POST without the CSRF token is refused; another owner’s session neither sees nor disables this owner’s coupon (404)', async ({
      t,
      scene: { one, ownerA, ownerB, signIn, get, post },
    }) => {
      const deps = t.service.deps;
      const a = await signIn(ownerA);
      const b = await signIn(ownerB);
      const noCsrf = await post(a, '/console/coupons', { code: 'SNEAK', percent: '10', plan: String(one.planId) });
      expect(noCsrf.statusCode).toBe(403);
      expect(await deps.store.coupons.findByCode('SNEAK')).toBeNull();
      expect((await post(a, '/console/coupons', { _csrf: a.csrf, code: 'MINE', percent: '10', plan: String(one.planId) })).statusCode).toBe(303);
      expect((await post(a, '/console/coupons/MINE/disable', { confirm: 'yes' })).statusCode).toBe(403);
      // Owner B: not in the list, and disabling it is "not found", before and after the confirmation step.
      expect((await get(b, '/console/growth')).body).not.toContain('MINE');
      for (const form of [{ _csrf: b.csrf }, { _csrf: b.csrf, confirm: 'yes' }] as Record<string, string>[]) {
        const res = await post(b, '/console/coupons/MINE/disable', form);
        expect(res.statusCode).toBe(404);
        expect(res.body).not.toContain('Disable coupon MINE?');
      }
      // Nor can B make a coupon for A's plan.
      expect((await post(b, '/console/coupons', { _csrf: b.csrf, code: 'THEIRS', percent: '10', plan: String(one.planId) })).statusCode).toBe(403);
      expect(await deps.store.coupons.findByCode('THEIRS')).toBeNull();
      expect((await deps.store.coupons.findByCode('MINE'))!.active).toBe(true);
    });
  });

  describe('history (audit log)', () => {
    it('an owner sees the entries about their groups’ members, orders and plans only; the operator every entry; filters by subject and action', async ({
      scene: { one, two, ownerA, signIn, get, post },
    }) => {
      const a = await signIn(ownerA);
      expect(
        (await post(a, `/console/members/${one.membershipId}/extend`, { _csrf: a.csrf, days: '3', confirm: 'yes', _press: newPressKey() })).statusCode,
      ).toBe(303);
      const mine = (await get(a, '/console/audit')).body;
      expect(mine).toContain(`membership ${one.membershipId}<`);
      expect(mine).toContain('membership.extend_by_owner');
      expect(mine).not.toContain(`membership ${two.membershipId}<`);
      expect(mine).not.toContain(two.orderId.slice(0, 8));
      const op = await signIn(null);
      const all = (await get(op, '/console/audit')).body;
      expect(all).toContain(`membership ${two.membershipId}<`);
      expect(all).toContain('console.sign_in');
      const filtered = (await get(op, '/console/audit?action=membership.extend_by_owner')).body;
      expect([...filtered.matchAll(/data-audit="/g)]).toHaveLength(1);
      const bySubject = (await get(op, `/console/audit?subject=order&id=${two.orderId}`)).body;
      expect(bySubject).toContain(two.orderId.slice(0, 8));
      expect(bySubject).not.toContain(one.orderId.slice(0, 8));
      const bad = await get(op, '/console/audit?action=%3Cscript%3E');
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('action must be at most 60 letters, digits and . _ : -');
    });
  });

  describe('overview', () => {
    it('the figures and the chart series are the ones GET /api/stats gives; the chart library comes from our origin', async ({
      t,
      scene: { one, ownerA, signIn, get },
    }) => {
      const op = await signIn(null);
      const page = await get(op, '/console');
      const api = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
      const series = JSON.parse(
        /id="revenue-chart"\s+data-series="([^"]+)"/.exec(page.body)![1]!.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&#38;/g, '&'),
      );
      expect(series.labels).toEqual(api.daily.labels);
      expect(series.currency).toBe('CNY');
      expect(series.minor).toEqual(api.daily.netMinor.CNY);
      // This month's days add up to the month's revenue (one definition).
      const monthDays = api.daily.labels.map((l: string, i: number) => (l.startsWith(api.month) ? api.daily.netMinor.CNY[i] : 0));
      expect(monthDays.reduce((x: number, y: number) => x + y, 0)).toBe(api.revenue.find((r: { currency: string }) => r.currency === 'CNY').netMinor);
      expect(api.monthly.labels).toHaveLength(12);
      expect(api.daily.labels).toHaveLength(30);
      const card = (id: string) =>
        new RegExp(`id="${id}"[\\s\\S]*?class="v">([\\s\\S]*?)</div>`)
          .exec(page.body)![1]!
          .replace(/<[^>]+>/g, '')
          .trim();
      expect(card('card-active')).toBe(String(api.activeMembers));
      expect(card('card-new')).toBe(String(api.newMembers));
      expect(card('card-review')).toBe(String(api.reviewQueue));
      expect(card('card-dead')).toBe(String(api.deadLetters));
      expect(card('card-revenue')).toBe('9.90 CNY · 5.00 USD');
      expect(page.body).toContain('Times are shown in Asia/Shanghai (UTC+8).');
      expect(page.body).toContain('src="/console/assets/uplot.min.js"');
      expect(page.body).not.toMatch(/<script>|<style>| style="/);
      const js = await get(null, '/console/assets/uplot.min.js');
      expect(js.statusCode).toBe(200);
      expect(js.headers['content-type']).toMatch(/javascript/);
      expect(js.body).toContain('uPlot');
      // An owner of group 1 sees group 1's figures only (USD is group 2's).
      const a = await signIn(ownerA);
      const mine = await get(a, '/console?range=monthly');
      expect(mine.body).toContain('data-currency="CNY"');
      expect(mine.body).not.toContain('USD');
      expect(mine.body).not.toContain('id="card-dead"');
      expect(one.groupId).toBeGreaterThan(0);
    });

    it('zh-CN: the console speaks the browser’s language, and ?lang= switches it', async ({ scene: { ownerA, signIn, get }, t }) => {
      const a = await signIn(ownerA);
      const zh = await t.service.app.inject({ method: 'GET', url: '/console', headers: { cookie: a.cookie, 'accept-language': 'zh-CN,zh;q=0.9' } });
      expect(zh.body).toContain('有效会员');
      expect(zh.body).toContain('<html lang="zh-CN">');
      const en = await get(a, '/console?lang=en');
      expect(en.body).toContain('Members with access');
    });
  });
});

describe('owner console behind https', () => {
  const it = serviceTest('sqlite', { PUBLIC_URL: 'https://gk.example' });
  it('the session cookie is Secure when PUBLIC_URL is https', async ({ t }) => {
    const link = await issueLoginLink(t.service.deps, admin, null);
    const res = await t.service.app.inject({
      method: 'POST',
      url: '/console/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${new URL(link.url).searchParams.get('token')}`,
    });
    expect(res.statusCode).toBe(303);
    expect(cookieOf(res.headers['set-cookie'])).toMatch(/; Secure/);
  });
});
