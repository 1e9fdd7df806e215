import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ECHO, MAX_NAME, timeTravelAllowed } from '../../../bots/playground/playground-routes.ts';
import { loadConfig } from '../../../src/config.ts';
import { en } from '../../../src/conversation/i18n/en.ts';
import { zhCN } from '../../../src/conversation/i18n/zh-CN.ts';
import { startTestService, type TestService } from '../../helpers/service.ts';
import { addGroupAndPlan, as, createPerson, type Playground, startPlayground } from './harness.ts';

let pg: Playground;
afterEach(async () => {
  await pg?.close();
});

describe('GET /playground', () => {
  it("serves one self-contained page with testable elements, in the catalogue's words", async () => {
    pg = await startPlayground();
    const r = await pg.service.app.inject({ method: 'GET', url: '/playground', headers: { 'accept-language': 'en-US,en;q=0.9' } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    const html = r.body;
    for (const id of ['name-input', 'create-person', 'message-input', 'send-button', 'clock', 'groups', 'admin-token', 'get-claim', 'claim-code'])
      expect(html).toContain(`data-testid="${id}"`);
    // The script builds bubbles, choices, QR images and group rows with these ids.
    for (const id of ['bubble', 'choice', 'qr-image', 'group-row', 'member-row', 'membership-badge']) expect(html).toContain(`'data-testid':'${id}'`);
    expect(html).toContain('<meta name="viewport" content="width=device-width');
    expect(html).toContain(en['playground.title']);
    expect(html).toContain(en['playground.owner_title']);
    // No external assets.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="https?:/);
    // Time travel is off with a plain clock.
    expect(html).not.toContain('data-testid="time-travel-1d"');
  });

  it("the name field holds at most the server's limit, and long names are cut with an ellipsis, not widening the page", async () => {
    pg = await startPlayground();
    const html = (await pg.service.app.inject({ method: 'GET', url: '/playground' })).body;
    expect(MAX_NAME).toBe(40);
    expect(html).toMatch(new RegExp(`<input id="name-input"[^>]* maxlength="${MAX_NAME}"`));
    expect(html).toContain('"maxName":40');
    expect(html).toMatch(/\.chip\{max-width:\d+px/);
    expect(html).toMatch(/\.chip \.name,\.members \.name\{[^}]*text-overflow:ellipsis/);
    expect(html).toContain('<link rel="icon" href="data:image/svg+xml,');
  });

  it('speaks Chinese when asked, by header or by ?lang', async () => {
    pg = await startPlayground();
    const byHeader = await pg.service.app.inject({ method: 'GET', url: '/playground', headers: { 'accept-language': 'zh-CN,zh;q=0.9' } });
    expect(byHeader.body).toContain('<html lang="zh-CN">');
    expect(byHeader.body).toContain(zhCN['playground.title']);
    const byQuery = await pg.service.app.inject({ method: 'GET', url: '/playground?lang=zh-CN' });
    expect(byQuery.body).toContain(zhCN['playground.send']);
    const bogus = await pg.service.app.inject({ method: 'GET', url: '/playground?lang=<script>' });
    expect(bogus.statusCode).toBe(200);
    expect(bogus.body).toContain('<html lang="en">');
  });

  it('every playground.* key exists in both catalogues', () => {
    const keys = Object.keys(en).filter((k) => k.startsWith('playground.'));
    expect(keys.length).toBeGreaterThan(30);
    for (const k of keys) expect((zhCN as Record<string, string>)[k], k).toBeTruthy();
  });

  it('is not served with PLAYGROUND=off', async () => {
    pg = await startPlayground({ env: { PLAYGROUND: 'off' } });
    expect(pg.service.playground).toBeUndefined();
    expect((await pg.service.app.inject({ method: 'GET', url: '/playground' })).statusCode).toBe(404);
    expect((await pg.service.app.inject({ method: 'POST', url: '/playground/api/people', payload: { name: 'A' } })).statusCode).toBe(404);
  });
});

describe('POST /playground/api/people', () => {
  it('creates a person with an unguessable id and a trimmed name, stored as a playground account', async () => {
    pg = await startPlayground();
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/people', payload: { name: '  Alice   Liddell \n', locale: 'zh-CN' } });
    expect(r.statusCode).toBe(201);
    const { userId, name } = r.json();
    expect(userId).toMatch(/^pg_[0-9a-f]{32}$/);
    expect(name).toBe('Alice Liddell');
    const account = await pg.service.deps.store.accounts.find('playground', userId);
    expect(account).toMatchObject({ displayName: 'Alice Liddell', locale: 'zh-CN' });
    const other = await pg.service.app.inject({ method: 'POST', url: '/playground/api/people', payload: { name: 'Alice Liddell' } });
    expect(other.json().userId).not.toBe(userId);
    // 40 characters counted as characters, not UTF-16 units.
    expect((await pg.service.app.inject({ method: 'POST', url: '/playground/api/people', payload: { name: '😀'.repeat(40) } })).statusCode).toBe(201);
  });

  it.each([
    ['no body', undefined],
    ['no name', {}],
    ['empty name', { name: '' }],
    ['blank name', { name: ' \t\n ' }],
    ['41 characters', { name: 'x'.repeat(41) }],
    ['a number', { name: 42 }],
    ['an object', { name: { first: 'A' } }],
    ['an array body', ['Alice']],
  ])('refuses %s with one line of 400', async (_label, payload) => {
    pg = await startPlayground();
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/people', ...(payload === undefined ? {} : { payload: payload as object }) });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toBe('invalid_input');
    expect(r.json().message).toMatch(/^name /);
    expect(r.json().message).not.toContain('\n');
  });

  it('counts the per-address cap against X-Forwarded-For only from a proxy TRUST_PROXY names', async () => {
    const people = (o: { xff?: string; from?: string }) =>
      pg.service.app.inject({
        method: 'POST',
        url: '/playground/api/people',
        payload: { name: 'P' },
        ...(o.from ? { remoteAddress: o.from } : {}),
        headers: o.xff ? { 'x-forwarded-for': o.xff } : {},
      });
    const cap = 20; // DEFAULT_SESSION_LIMITS.peoplePerClient
    // Behind the proxy at 127.0.0.1 (inject's peer): each forwarded client has a cap of its own.
    pg = await startPlayground({ env: { TRUST_PROXY: '127.0.0.1' } });
    for (let i = 0; i < cap; i++) expect((await people({ xff: '198.51.100.1' })).statusCode).toBe(201);
    expect((await people({ xff: '198.51.100.1' })).statusCode).toBe(429);
    expect((await people({ xff: '198.51.100.2' })).statusCode).toBe(201);
    // A client prepending its own entry is still counted by the address the proxy appended.
    expect((await people({ xff: '203.0.113.50, 198.51.100.1' })).statusCode).toBe(429);
    // A direct client (not the proxy) cannot name an address: its own socket address counts.
    for (let i = 0; i < cap; i++) expect((await people({ from: '192.0.2.7', xff: `198.51.100.${100 + i}` })).statusCode).toBe(201);
    expect((await people({ from: '192.0.2.7', xff: '198.51.100.250' })).statusCode).toBe(429);
    await pg.close();

    // Off (the default): the header is ignored, the whole proxy is one client.
    pg = await startPlayground();
    for (let i = 0; i < cap; i++) expect((await people({ xff: `198.51.100.${i}` })).statusCode).toBe(201);
    expect((await people({ xff: '198.51.100.200' })).statusCode).toBe(429);
  });

  it('answers malformed JSON with 400, not 500', async () => {
    pg = await startPlayground();
    const r = await pg.service.app.inject({
      method: 'POST',
      url: '/playground/api/people',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expect(r.statusCode).toBe(400);
  });
});

describe('POST /playground/api/send', () => {
  it('routes text through the conversation and returns rendered replies, kept in the inbox', async () => {
    pg = await startPlayground();
    const userId = await createPerson(pg.service, 'Alice');
    const r = await pg.service.app.inject({
      method: 'POST',
      url: '/playground/api/send',
      headers: as(userId),
      payload: { userId, text: '/menu', locale: 'en' },
    });
    expect(r.statusCode).toBe(200);
    expect(pg.conversation.received.at(-1)).toEqual({ platform: 'playground', userId, displayName: 'Alice', locale: 'en', text: '/menu' });
    expect(r.json().replies).toEqual([
      {
        type: 'choices',
        text: 'Pick one',
        choices: [
          { value: 'plan:1', label: 'Monthly 9.90' },
          { value: 'plan:2', label: 'Yearly 99' },
        ],
      },
    ]);
    expect(r.json().messages.map((m: { from: string }) => m.from)).toEqual(['person', 'bot']);

    // A button press goes as a choice; the person's own line shows the button's label.
    const c = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: { userId, choice: 'plan:2' } });
    expect(pg.conversation.received.at(-1)).toMatchObject({ userId, choice: 'plan:2' });
    expect(pg.conversation.received.at(-1)).not.toHaveProperty('text');
    expect(c.json().messages[0].reply).toEqual({ type: 'text', text: 'Yearly 99' });
    expect(c.json().replies).toEqual([{ type: 'text', text: 'you chose plan:2' }]);

    const link = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: { userId, text: '/link' } });
    expect(link.json().replies).toEqual([{ type: 'link', text: 'Or pay here', url: 'http://gk.test/pay/x', label: 'Open' }]);

    const state = await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${userId}`, headers: as(userId) });
    expect(state.json().history.map((e: { from: string; reply: { type: string } }) => `${e.from}:${e.reply.type}`)).toEqual([
      'person:text',
      'bot:choices',
      'person:text',
      'bot:text',
      'person:text',
      'bot:link',
    ]);
    expect(state.json().person).toEqual({ userId, name: 'Alice', isOwner: false });
  });

  it('sends the QR as a PNG data URL that leads to the pay page', async () => {
    pg = await startPlayground();
    await addGroupAndPlan(pg.service);
    const userId = await createPerson(pg.service, 'Alice');
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: { userId, text: '/buy' } });
    expect(r.statusCode).toBe(200);
    const [img] = r.json().replies;
    expect(img.type).toBe('image');
    expect(img.caption).toBe('Pay Monthly');
    expect(img.url).toMatch(/^http:\/\/gk\.test\/pay\/[A-Za-z0-9_-]{22}$/);
    expect(img.src).toMatch(/^data:image\/png;base64,/);
    expect(Buffer.from(img.src.split(',')[1], 'base64').subarray(1, 4).toString()).toBe('PNG');
  });

  it.each([
    ['empty', ''],
    ['whitespace', '   '],
    ['10 kB', 'x'.repeat(10 * 1024 + 1)],
    ['emoji only', '😀🎉👍🏽'],
  ])('passes %s text to the conversation instead of failing', async (_label, text) => {
    pg = await startPlayground();
    const userId = await createPerson(pg.service, 'Alice');
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: { userId, text } });
    expect(r.statusCode).toBe(200);
    expect(pg.conversation.received.at(-1)!.text).toBe(text);
    expect(r.json().replies).toHaveLength(1);
  });

  it('keeps a message over MAX_ECHO characters cut in the chat, marked so the page can say it was cut; the bot gets all of it', async () => {
    pg = await startPlayground();
    const userId = await createPerson(pg.service, 'Alice');
    const long = '字'.repeat(MAX_ECHO + 10);
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: { userId, text: long } });
    const own = r.json().messages[0];
    expect(own.cutAt).toBe(MAX_ECHO);
    expect([...own.reply.text]).toHaveLength(MAX_ECHO + 1); // the kept part and an ellipsis
    expect(pg.conversation.received.at(-1)!.text).toBe(long);
    const state = await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${userId}`, headers: as(userId) });
    expect(state.json().history[0].cutAt).toBe(MAX_ECHO);
    const short = await pg.service.app.inject({
      method: 'POST',
      url: '/playground/api/send',
      headers: as(userId),
      payload: { userId, text: '字'.repeat(MAX_ECHO) },
    });
    expect(short.json().messages[0]).not.toHaveProperty('cutAt');
    // The page shows the note in the reader's words.
    const page = (await pg.service.app.inject({ method: 'GET', url: '/playground' })).body;
    expect(page).toContain("'data-testid':'cut-note'");
    expect(page).toContain(en['playground.message_cut']);
  });

  it('treats a message with neither text nor choice as empty text', async () => {
    pg = await startPlayground();
    const userId = await createPerson(pg.service, 'Alice');
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: { userId } });
    expect(r.statusCode).toBe(200);
    expect(pg.conversation.received.at(-1)!.text).toBe('');
    expect(r.json().replies).toEqual([{ type: 'text', text: 'help: send /buy' }]);
  });

  const VALID = Symbol('a real person');
  it.each([
    ['a missing userId', { text: 'hi' }, /userId is required/],
    ['an empty userId', { userId: '', text: 'hi' }, /userId is required/],
    ['a numeric userId', { userId: 12, text: 'hi' }, /userId must be a string/],
    ['a malformed userId', { userId: '../../etc', text: 'hi' }, /unknown person/],
    ['an unknown person', { userId: `pg_${'0'.repeat(32)}`, text: 'hi' }, /unknown person/],
    ['non-string text', { userId: VALID, text: { a: 1 } }, /text must be a string/],
    ['non-string choice', { userId: VALID, choice: 3 }, /choice must be a string/],
  ])('refuses %s with 400 and does not call the conversation', async (_label, payload, message) => {
    pg = await startPlayground();
    const userId = await createPerson(pg.service, 'Alice');
    const body = (payload as { userId?: unknown }).userId === VALID ? { ...payload, userId } : payload;
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(userId), payload: body });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(message);
    expect(pg.conversation.received).toHaveLength(0);
  });
});

describe('GET /playground/api/state', () => {
  it('shows the groups with live rosters, the service time and whether time travel is on', async () => {
    pg = await startPlayground();
    const { groupId } = await addGroupAndPlan(pg.service, 'room-1', 'Readers club');
    const alice = await createPerson(pg.service, 'Alice');
    await pg.gateway.invite('room-1', alice, { membershipId: 1, expiresAt: 0, groupTitle: 'Readers club', locale: 'en' });
    const r = await pg.service.app.inject({ method: 'GET', url: '/playground/api/state' });
    expect(r.json()).toEqual({
      person: null,
      history: [],
      groups: [{ id: groupId, title: 'Readers club', chatId: 'room-1', members: [{ userId: alice, name: 'Alice' }] }],
      now: pg.fake.now(),
      offsetMs: 0,
      timeTravel: false,
    });
    expect((await pg.service.app.inject({ method: 'GET', url: '/playground/api/state?userId=nope' })).statusCode).toBe(400);
  });
});

describe('the whole story through the playground gateway', () => {
  it('pay on the checkout page → the bot confirms in the chat and the person is in the group', async () => {
    pg = await startPlayground();
    await addGroupAndPlan(pg.service, 'room-1');
    const alice = await createPerson(pg.service, 'Alice');
    const bob = await createPerson(pg.service, 'Bob');
    const img = (
      await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(alice), payload: { userId: alice, text: '/buy' } })
    ).json().replies[0];
    const orderId = new URL(img.url).pathname.split('/').pop()!;
    const paid = await pg.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(paid.json()).toMatchObject({ status: 'paid' });
    await pg.service.worker.drain();

    expect(pg.gateway.members('room-1')).toEqual([alice]);
    const last = pg.gateway.inbox(alice).at(-1)!;
    expect(last.from).toBe('bot');
    expect((last.reply as { text: string }).text).toMatch(/Payment received/);
    expect(pg.gateway.inbox(bob)).toEqual([]);
    const state = (await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${bob}`, headers: as(bob) })).json();
    expect(state.groups[0].members).toEqual([{ userId: alice, name: 'Alice' }]);
  });
});

describe('POST /playground/api/time-travel', () => {
  it('is 404 when time travel is not enabled (plain clock)', async () => {
    pg = await startPlayground();
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/time-travel', payload: { hours: 24 } });
    expect(r.statusCode).toBe(404);
  });

  it('is 404 with an OffsetClock when a real chat platform is configured', async () => {
    pg = await startPlayground({ timeTravel: true, env: { PLAYGROUND: 'on', TELEGRAM_BOT_TOKEN: '123:abc', ALLOW_DEV_PAYMENTS: '1' } });
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/time-travel', payload: { hours: 24 } });
    expect(r.statusCode).toBe(404);
    expect((await pg.service.app.inject({ method: 'GET', url: '/playground' })).body).not.toContain('data-testid="time-travel-1d"');
  });

  it.each([[0], [8761], [1.5], ['abc'], [null], [-3]])('refuses hours=%s with 400', async (hours) => {
    pg = await startPlayground({ timeTravel: true });
    const before = pg.clock.now();
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/time-travel', payload: { hours } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('hours must be a whole number from 1 to 8760');
    expect(pg.clock.now()).toBe(before);
  });

  it('moves the service clock, runs a tick and lets the worker deliver: grace, then removal', async () => {
    pg = await startPlayground({ timeTravel: true });
    const page = await pg.service.app.inject({ method: 'GET', url: '/playground' });
    expect(page.body).toContain('data-testid="time-travel-1d"');
    await addGroupAndPlan(pg.service, 'room-1');
    const alice = await createPerson(pg.service, 'Alice');
    const img = (
      await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(alice), payload: { userId: alice, text: '/buy' } })
    ).json().replies[0];
    await pg.service.app.inject({ method: 'POST', url: `${new URL(img.url).pathname}/dev-pay`, headers: { accept: 'application/json' } });
    await pg.service.worker.drain();
    expect(pg.gateway.members('room-1')).toEqual([alice]);
    const { store } = pg.service.deps;
    const account = (await store.accounts.find('playground', alice))!;

    const start = pg.clock.now();
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/time-travel', payload: { hours: 30 * 24 + 1 } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ now: start + (30 * 24 + 1) * 3_600_000, offsetMs: (30 * 24 + 1) * 3_600_000 });
    expect(pg.fake.now()).toBe(Date.UTC(2026, 0, 1)); // only the offset moved, not the base clock
    // The tick ran inside the request: paid time over → grace.
    expect((await store.memberships.list({ accountId: account.id }))[0]!.status).toBe('grace');
    await pg.service.worker.drain();
    expect(pg.gateway.members('room-1')).toEqual([alice]); // still in during grace

    const state = (await pg.service.app.inject({ method: 'GET', url: '/playground/api/state' })).json();
    expect(state).toMatchObject({ now: start + (30 * 24 + 1) * 3_600_000, offsetMs: (30 * 24 + 1) * 3_600_000, timeTravel: true });

    await pg.service.app.inject({ method: 'POST', url: '/playground/api/time-travel', payload: { hours: '25' } });
    expect((await store.memberships.list({ accountId: account.id }))[0]!.status).toBe('expired');
    await pg.service.worker.drain();
    expect(pg.gateway.members('room-1')).toEqual([]);
    expect((pg.gateway.inbox(alice).at(-1)!.reply as { text: string }).text).toMatch(/renew/i);
  });
});

describe('service wiring', () => {
  let t: TestService;
  afterEach(async () => {
    await t?.close();
  });

  it('keeps a test gateway given for playground and still serves the page', async () => {
    t = await startTestService('sqlite');
    expect(t.service.deps.gateways.get('playground')).toBe(t.gateway);
    expect(t.service.playground).toBeDefined();
    expect((await t.service.app.inject({ method: 'GET', url: '/playground' })).statusCode).toBe(200);
  });

  it('uses the playground gateway for the playground platform when none is given', async () => {
    pg = await startPlayground();
    expect(pg.service.deps.gateways.get('playground')).toBe(pg.service.playground);
  });

  it('time travel is allowed only for the playground with the dev provider alone', () => {
    const base = { DATA_DIR: '/x', ADMIN_TOKEN: 'a'.repeat(20) };
    expect(timeTravelAllowed(loadConfig(base))).toBe(true);
    expect(timeTravelAllowed(loadConfig({ ...base, PLAYGROUND: 'off' }))).toBe(false);
    expect(timeTravelAllowed(loadConfig({ ...base, TELEGRAM_BOT_TOKEN: 't', ALLOW_DEV_PAYMENTS: '1', PLAYGROUND: 'on' }))).toBe(false);
    expect(timeTravelAllowed(loadConfig({ ...base, WECHATY_PUPPET_SERVICE_TOKEN: 't', ALLOW_DEV_PAYMENTS: '1', PLAYGROUND: 'on' }))).toBe(false);
    expect(timeTravelAllowed({ playground: true, telegram: null, wechat: null, paymentProviders: ['dev', 'stripe'] })).toBe(false);
    expect(timeTravelAllowed({ playground: true, telegram: null, wechat: null, paymentProviders: ['stripe'] })).toBe(false);
  });
});
