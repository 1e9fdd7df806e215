// Pace and failures: every call within Telegram's limits, 429 retry_after honoured with nothing dropped,
// 5xx and timeouts retried, a refusal (bot blocked) dead-lettered with the owner told, and webhook mode with
// its secret token.
import { afterEach, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { ADMIN_TOKEN } from '../../helpers/service.ts';
import { freePort, type Harness, startTelegram } from './harness.ts';
import { MESSAGE_METHODS } from '../../../bots/telegram/bot-api-client.ts';
import type { User } from '../../fakes/telegram-emulator.ts';

const ALL_TYPES = ['message', 'callback_query', 'my_chat_member', 'chat_member', 'chat_join_request', 'pre_checkout_query', 'subscription'];

describe.each(DIALECTS)('Telegram pace and failures (%s)', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('removes 500 lapsed members under a 429 storm: every removal done, no call above the limits', async () => {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    const users: User[] = [];
    const now = h.clock.now();
    for (let i = 0; i < 500; i++) users.push(emu.addUser(`Member${i}`, { language_code: 'en' }));
    emu.seedMembers(chatId, users);
    await store.transaction(async (tx) => {
      for (const u of users) {
        const a = await tx.accounts.upsert({ platform: 'telegram', platformUserId: String(u.id), displayName: u.first_name, locale: 'en' }, now);
        await tx.memberships.insert({ accountId: a.id, groupId: group.id, status: 'active', expiresAt: now + HOUR_MS }, now);
      }
    });
    // A storm: every 7th call answered 429 (retry after 2 s), 60 times over.
    emu.inject({ kind: '429', retryAfter: 2, every: 7, times: 60 });
    h.clock.set(now + HOUR_MS + 25 * HOUR_MS);
    await h.tick();
    await h.tick();
    expect(await store.jobs.list({ kind: 'remove' })).toHaveLength(500);

    await h.until(async () => (await store.jobs.list({ kind: 'remove', status: 'done' })).length === 500, 'all removals done', {
      stepMs: 1000,
      maxSteps: 2000,
    });
    expect(users.filter((u) => emu.isMember(chatId, u.id))).toEqual([]);
    // Out, and not banned: free to buy again and rejoin.
    expect(users.filter((u) => emu.status(chatId, u.id) !== 'left')).toEqual([]);
    expect(emu.calls.filter((c) => c.injected && c.status === 429)).toHaveLength(60);
    expect(emu.violations).toEqual([]);
    expect(h.t.service.limiter.stats.throttled.get('telegram')).toBe(60);
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
    // Everyone is told, within the per-chat pace.
    await h.until(() => users.every((u) => h!.texts(u.id).some((x) => x.includes('has ended'))), 'everyone told', { stepMs: 1000, maxSteps: 2000 });
    expect(emu.violations).toEqual([]);
    // Never more than 30 accepted messages in any second, nor 30 other calls (their own window), by the emulator's own records.
    for (const messages of [true, false]) {
      const accepted = emu.calls
        .filter((c) => c.method !== 'getUpdates' && !c.injected && c.status !== 429 && MESSAGE_METHODS.has(c.method) === messages)
        .map((c) => c.at)
        .sort((a, b) => a - b);
      expect(accepted.length).toBeGreaterThan(30);
      for (let i = 30; i < accepted.length; i++) expect(accepted[i]! - accepted[i - 30]!).toBeGreaterThanOrEqual(1000);
    }
  }, 120_000);

  it('retries 5xx and timeouts with backoff until the invite goes out', async () => {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id);
    h.adapter.options.requestTimeoutMs = 300;
    // A first-time payer's invite asks nothing before createChatInviteLink: two 502s, then a call answered
    // too late (Telegram made that link; nobody gets it, and a join-request link admits nobody on its own).
    emu.inject({ method: 'createChatInviteLink', kind: '5xx', status: 502, times: 2 });
    emu.inject({ method: 'createChatInviteLink', kind: 'delay', ms: 1000, times: 1 });
    const alice = emu.addUser('Alice');
    await h.buyWithDev(alice);
    const link = await h.inviteLink(alice);
    await h.until(async () => (await store.jobs.list({ kind: 'invite', status: 'done' })).length === 1, 'invite job done');
    const [invite] = await store.jobs.list({ kind: 'invite' });
    expect(invite).toMatchObject({ status: 'done', attempts: 4 });
    const made = emu.calls.filter((c) => c.method === 'createChatInviteLink');
    expect(made.map((c) => [c.status, c.injected === true])).toEqual([
      [502, true],
      [502, true],
      [200, true],
      [200, false],
    ]);
    expect(emu.joinViaLink(alice, link)).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
  });

  it('keeps retrying a removal past its attempts while bans fail with 5xx, and removes once Telegram recovers', async () => {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id);
    const alice = emu.addUser('Alice');
    await h.buyAndJoin(alice, chatId);
    // Telegram fails every ban for a while.
    emu.inject({ method: 'banChatMember', kind: '5xx', times: 1000 });
    const account = (await store.accounts.find('telegram', String(alice.id)))!;
    const [m] = await store.memberships.list({ accountId: account.id });
    emu.sendText(owner, `/remove ${m!.id}`);
    await h.until(() => emu.calls.filter((c) => c.method === 'banChatMember').length >= 12, '12 failed bans', { stepMs: 5000, maxSteps: 2000 });
    const [job] = await store.jobs.list({ kind: 'remove' });
    expect(job!.status).not.toBe('dead');
    expect(job!.attempts).toBeGreaterThan(8);
    // Backoff capped at 5 minutes: the last two tries are no more than 5 minutes apart.
    const bans = emu.calls.filter((c) => c.method === 'banChatMember').map((c) => c.at);
    expect(bans.at(-1)! - bans.at(-2)!).toBeLessThanOrEqual(5 * 60_000 + 5000);
    emu.clearFaults();
    await h.until(async () => (await store.jobs.list({ kind: 'remove', status: 'done' })).length === 1, 'removal done', { stepMs: 5000, maxSteps: 2000 });
    expect(emu.isMember(chatId, alice.id)).toBe(false);
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
  });

  it('dead-letters a refused call (the member blocked the bot) and tells the owner', async () => {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { group } = await h.boundGroup(owner);
    await h.plan(group.id);
    const alice = emu.addUser('Alice');
    // She blocks the bot after getting the QR code, then pays: the invite cannot reach her.
    await h.buyWithDev(alice, '/start', /^Monthly/, () => emu.block(alice));
    await h.until(async () => (await store.jobs.list({ kind: 'invite', status: 'dead' })).length === 1, 'invite dead-lettered', { maxSteps: 400 });
    const [dead] = await store.jobs.list({ kind: 'invite', status: 'dead' });
    expect(dead!.lastError).toContain('bot was blocked by the user');
    expect(dead!.attempts).toBe(1);
    await h.until(() => h!.texts(owner.id).some((x) => x.includes('Gave up on a "invite" task') && x.includes('blocked')), 'owner told');
  });

  it('asks getUpdates for every update type it uses', async () => {
    h = await startTelegram(dialect);
    await h.until(() => h!.emu.calls.some((c) => c.method === 'getUpdates'), 'polling');
    const poll = h.emu.calls.find((c) => c.method === 'getUpdates')!;
    expect([...(poll.params.allowed_updates as string[])].sort()).toEqual([...ALL_TYPES].sort());
    expect(h.emu.calls.some((c) => c.method === 'deleteWebhook')).toBe(true);
    const health = (await h.t.service.app.inject({ method: 'GET', url: '/healthz', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
    expect(health).toMatchObject({ status: 'ok', telegram: { mode: 'polling', state: 'running', bot: 'gatekeeper_test_bot' } });
    // Anyone else sees the state only.
    expect((await h.t.service.app.inject({ method: 'GET', url: '/healthz' })).json().telegram).toEqual({ mode: 'polling', state: 'running' });
  });

  it('in webhook mode takes updates only with the right secret token', async () => {
    const port = await freePort();
    const secret = 'wh-Secret_0123456789';
    h = await startTelegram(dialect, {
      env: { TELEGRAM_MODE: 'webhook', TELEGRAM_WEBHOOK_SECRET: secret, PUBLIC_URL: `http://127.0.0.1:${port}` },
      listenPort: port,
    });
    const { emu } = h;
    const store = h.t.service.deps.store;
    const set = emu.calls.find((c) => c.method === 'setWebhook')!;
    expect(set.params).toMatchObject({ url: `http://127.0.0.1:${port}/webhooks/telegram`, secret_token: secret });
    expect([...(set.params.allowed_updates as string[])].sort()).toEqual([...ALL_TYPES].sort());

    // Real deliveries carry the secret and are handled.
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id);
    const alice = emu.addUser('Alice');
    await h.buyAndJoin(alice, chatId);
    expect(emu.deliveries.length).toBeGreaterThan(3);
    expect(emu.deliveries.every((d) => d.status === 200)).toBe(true);
    expect(emu.calls.some((c) => c.method === 'getUpdates')).toBe(false);

    // Forged ones are refused before anything is read.
    const forged = {
      update_id: 999_999,
      message: { message_id: 1, date: 1, chat: { id: 555, type: 'private' }, from: { id: 555, is_bot: false, first_name: 'Forger' }, text: '/start' },
    };
    const app = h.t.service.app;
    const missing = await app.inject({ method: 'POST', url: '/webhooks/telegram', payload: forged });
    const wrong = await app.inject({
      method: 'POST',
      url: '/webhooks/telegram',
      headers: { 'x-telegram-bot-api-secret-token': 'wh-Secret_0123456788' },
      payload: forged,
    });
    const short = await app.inject({ method: 'POST', url: '/webhooks/telegram', headers: { 'x-telegram-bot-api-secret-token': 'x' }, payload: forged });
    expect([missing.statusCode, wrong.statusCode, short.statusCode]).toEqual([401, 403, 403]);
    await h.run(2_000);
    expect(await store.accounts.find('telegram', '555')).toBeNull();
    expect(emu.messagesTo(555)).toEqual([]);
    // Not an update at all, with the right secret: 400, nothing done.
    const junk = await app.inject({
      method: 'POST',
      url: '/webhooks/telegram',
      headers: { 'x-telegram-bot-api-secret-token': secret },
      payload: { hello: 'world' },
    });
    expect(junk.statusCode).toBe(400);
    // The right secret: handled.
    const ok = await app.inject({
      method: 'POST',
      url: '/webhooks/telegram',
      headers: { 'x-telegram-bot-api-secret-token': secret },
      payload: {
        ...forged,
        update_id: 1_000_000,
        message: { ...forged.message, from: { id: alice.id, is_bot: false, first_name: 'Alice' }, chat: { id: alice.id, type: 'private' }, text: '/status' },
      },
    });
    expect(ok.statusCode).toBe(200);
    await h.until(() => h!.texts(alice.id).some((x) => x.includes('Readers club: active until')), 'status answered');
  });
});
