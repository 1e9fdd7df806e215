// The Bot API client against the emulator: typed errors for each kind of failure, the limiter paused by a
// 429, and the emulator refusing what the real API refuses.
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Telegraf } from 'telegraf';
import { type ApiCaller, BotApiClient, ChatMigratedError, TelegramApiError, withRetries } from '../../../bots/telegram/bot-api-client.ts';
import { splitText } from '../../../bots/telegram/telegram-gateway.ts';
import { ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../../../src/domain/errors.ts';
import { type AcquireRequest, OutboundLimiter } from '../../../src/jobs/outbound-limiter.ts';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { TelegramEmulator, type User } from '../../fakes/telegram-emulator.ts';
import { TOKEN } from './harness.ts';

describe('Telegram Bot API client and emulator', () => {
  let emu: TelegramEmulator;
  let clock: FakeClock;
  let limiter: OutboundLimiter;
  let client: BotApiClient;
  let api: ApiCaller;
  let owner: User;
  let group: number;

  beforeEach(async () => {
    clock = new FakeClock();
    emu = await TelegramEmulator.start({ token: TOKEN, clock });
    limiter = new OutboundLimiter(clock, { telegram: { perSecond: 30, perChatPerSecond: 1, perGroupPerMinute: 20 } });
    const bot = new Telegraf(TOKEN, { telegram: { apiRoot: emu.url } });
    api = bot.telegram.callApi.bind(bot.telegram) as unknown as ApiCaller;
    client = new BotApiClient(api, limiter, { timeoutMs: 2000 });
    owner = emu.addUser('Olga');
    group = emu.createGroup({ title: 'G', creator: owner });
  });
  afterEach(async () => {
    await emu.close();
  });

  const rejected = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TelegramApiError);
    return err as TelegramApiError;
  };

  it('takes the message windows only for messages; every other method acquires as a call that posts nothing', async () => {
    emu.addBot(group, owner);
    const asked: AcquireRequest[] = [];
    const recording = {
      acquire: (r: AcquireRequest) => (asked.push(r), limiter.acquire(r)),
      pause: (p: string, ms: number) => limiter.pause(p, ms),
    };
    const c = new BotApiClient(api, recording, { timeoutMs: 2000 });
    await c.call('sendMessage', { chat_id: group, text: 'hello' }, { lane: 'notice' });
    await c.call('getChatMember', { chat_id: group, user_id: owner.id }, { lane: 'invite' });
    await c.call('createChatInviteLink', { chat_id: group, creates_join_request: true }, { lane: 'invite' });
    await c.call('getMe', {}, { lane: 'system' });
    expect(asked).toEqual([
      { platform: 'telegram', chatId: String(group), isGroup: true, lane: 'notice', kind: 'message' },
      { platform: 'telegram', chatId: undefined, isGroup: false, lane: 'invite', kind: 'call' },
      { platform: 'telegram', chatId: undefined, isGroup: false, lane: 'invite', kind: 'call' },
      { platform: 'telegram', chatId: undefined, isGroup: false, lane: 'system', kind: 'call' },
    ]);
  });

  it('the emulator counts messages and other calls in separate windows, as Telegram does', async () => {
    emu.addBot(group, owner);
    const unpaced = new BotApiClient(api, new OutboundLimiter(clock, {}), { timeoutMs: 2000 });
    // In one virtual instant: 20 messages to the group and 30 other calls, all within their limits.
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => unpaced.call('sendMessage', { chat_id: group, text: `m${i}` }, { lane: 'notice' })),
      ...Array.from({ length: 30 }, () => unpaced.call('getChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' })),
    ]);
    expect(emu.violations).toEqual([]);
    // The 31st call in that second is over the calls' own limit.
    expect(await unpaced.call('getChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }).catch((e: unknown) => e)).toBeInstanceOf(
      RetryAfterError,
    );
    expect(emu.violations.map((v) => v.rule)).toEqual(['calls']);
  });

  it('refuses what the real API refuses, with its codes and descriptions', async () => {
    expect((await rejected(client.call('getChat', { chat_id: -42 }, { lane: 'system' }))).description).toBe('Bad Request: chat not found');
    // Not in the group yet, then a plain member, then an admin without the right.
    expect(await rejected(client.call('createChatInviteLink', { chat_id: group, creates_join_request: true }, { lane: 'invite' }))).toMatchObject({
      code: 403,
      description: 'Forbidden: bot is not a member of the supergroup chat',
    });
    emu.addBot(group, owner, 'member');
    expect((await rejected(client.call('createChatInviteLink', { chat_id: group, creates_join_request: true }, { lane: 'invite' }))).description).toBe(
      'Bad Request: CHAT_ADMIN_REQUIRED',
    );
    emu.setBotRights(group, owner, { can_invite_users: false, can_restrict_members: false });
    expect((await rejected(client.call('createChatInviteLink', { chat_id: group, creates_join_request: true }, { lane: 'invite' }))).description).toContain(
      'not enough rights',
    );
    expect((await rejected(client.call('banChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }))).description).toContain(
      'not enough rights',
    );
    emu.setBotRights(group, owner, {});
    expect(
      (await rejected(client.call('createChatInviteLink', { chat_id: group, creates_join_request: true, member_limit: 1 }, { lane: 'invite' }))).description,
    ).toMatch(/member limit can't be specified/);
    expect((await rejected(client.call('createChatInviteLink', { chat_id: group, name: 'x'.repeat(33) }, { lane: 'invite' }))).code).toBe(400);
    expect((await rejected(client.call('banChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }))).description).toBe(
      "Bad Request: can't remove chat owner",
    );
    expect((await rejected(client.call('approveChatJoinRequest', { chat_id: group, user_id: owner.id }, { lane: 'invite' }))).description).toBe(
      'Bad Request: USER_ALREADY_PARTICIPANT',
    );
    const stranger = emu.addUser('Sam');
    expect((await rejected(client.call('approveChatJoinRequest', { chat_id: group, user_id: stranger.id }, { lane: 'invite' }))).description).toBe(
      'Bad Request: HIDE_REQUESTER_MISSING',
    );
    // Private chats: only someone who started the bot can be written to.
    expect(await rejected(client.call('sendMessage', { chat_id: stranger.id, text: 'hi' }, { lane: 'notice' }))).toMatchObject({
      code: 403,
      description: "Forbidden: bot can't initiate conversation with a user",
    });
    emu.sendText(stranger, '/start');
    clock.set(clock.now() + 2000);
    expect((await rejected(client.call('sendMessage', { chat_id: stranger.id, text: '' }, { lane: 'notice' }))).description).toBe(
      'Bad Request: message text is empty',
    );
    clock.set(clock.now() + 2000);
    expect((await rejected(client.call('sendMessage', { chat_id: stranger.id, text: 'x'.repeat(4097) }, { lane: 'notice' }))).description).toBe(
      'Bad Request: message is too long',
    );
    clock.set(clock.now() + 2000);
    expect(
      (
        await rejected(
          client.call(
            'sendMessage',
            { chat_id: stranger.id, text: 'x', reply_markup: { inline_keyboard: [[{ text: 'b', callback_data: 'x'.repeat(65) }]] } },
            { lane: 'notice' },
          ),
        )
      ).description,
    ).toBe('Bad Request: BUTTON_DATA_INVALID');
    clock.set(clock.now() + 2000);
    expect(
      (
        await rejected(
          client.call(
            'sendInvoice',
            { chat_id: stranger.id, title: 'T', description: 'D', payload: 'p', currency: 'XTR', provider_token: 'tok', prices: [{ label: 'a', amount: 1 }] },
            { lane: 'notice' },
          ),
        )
      ).code,
    ).toBe(400);
    emu.block(stranger);
    clock.set(clock.now() + 2000);
    expect((await rejected(client.call('sendMessage', { chat_id: stranger.id, text: 'hi' }, { lane: 'notice' }))).description).toBe(
      'Forbidden: bot was blocked by the user',
    );
    // Multipart upload of a real PNG works; anything else is not an image.
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    emu.sendText(owner, 'hi');
    clock.set(clock.now() + 2000);
    await client.call(
      'sendPhoto',
      {
        chat_id: owner.id,
        photo: { source: png, filename: 'qr.png' },
        caption: 'c',
        reply_markup: { inline_keyboard: [[{ text: 'Pay', url: 'http://gk.test/pay/x' }]] },
      },
      { lane: 'notice' },
    );
    expect(emu.lastMessageTo(owner.id)).toMatchObject({ caption: 'c', reply_markup: { inline_keyboard: [[{ text: 'Pay', url: 'http://gk.test/pay/x' }]] } });
    clock.set(clock.now() + 2000);
    expect(
      (await rejected(client.call('sendPhoto', { chat_id: owner.id, photo: { source: Buffer.from('not an image'), filename: 'x.png' } }, { lane: 'notice' })))
        .description,
    ).toBe('Bad Request: IMAGE_PROCESS_FAILED');
  });

  it('maps 429 to RetryAfterError and pauses the limiter, 5xx and timeouts to unreachable, a migrated group to ChatMigratedError', async () => {
    emu.addBot(group, owner);
    emu.inject({ kind: '429', retryAfter: 3, method: 'getChatMember' });
    const err = await client.call('getChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryAfterError);
    expect((err as RetryAfterError).retryAfterMs).toBe(3000);
    // Nobody calls Telegram until the 3 s have passed.
    let done = false;
    const next = client.call('getChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }).then(() => (done = true));
    await clock.advance(2900);
    expect(done).toBe(false);
    await clock.advance(200);
    await next;
    expect(done).toBe(true);

    emu.inject({ kind: '5xx', status: 503, method: 'getChat' });
    expect(await client.call('getChat', { chat_id: group }, { lane: 'system' }).catch((e: unknown) => e)).toBeInstanceOf(ProviderUnreachableError);
    emu.inject({ kind: 'delay', ms: 500, method: 'getChat' });
    const slow = await client.call('getChat', { chat_id: group }, { lane: 'system', timeoutMs: 100 }).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(ProviderUnreachableError);
    expect(String((slow as Error).message)).not.toContain(TOKEN.split(':')[1]);

    // withRetries waits out a 5xx with backoff and gets through.
    emu.inject({ kind: '5xx', method: 'getChat', times: 2 });
    const retried = withRetries(() => client.call<{ id: number }>('getChat', { chat_id: group }, { lane: 'system' }), clock, { attempts: 4, baseMs: 100 });
    for (let i = 0; i < 20; i++) {
      await clock.advance(100);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect((await retried).id).toBe(group);

    const basic = emu.createGroup({ title: 'Basic', type: 'group', creator: owner });
    emu.addBot(basic, owner);
    const superId = emu.migrate(basic);
    const migrated = await client.call('getChat', { chat_id: basic }, { lane: 'system' }).catch((e: unknown) => e);
    expect(migrated).toBeInstanceOf(ChatMigratedError);
    expect((migrated as ChatMigratedError).newChatId).toBe(String(superId));
  });

  it('names the Bot API method on every error and keeps what went wrong underneath as its cause, without the token or the payload', async () => {
    // Rejected (the API said no): a 400 from banChatMember.
    emu.addBot(group, owner);
    const refused = await client.call('banChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderRejectedError);
    expect(refused).toMatchObject({ method: 'banChatMember', code: 400, provider: 'telegram' });
    const refusedCause = (refused as Error).cause as Error & Record<string, unknown>;
    expect(refusedCause).toBeInstanceOf(Error);
    expect(refusedCause.message).toContain("can't remove chat owner");
    expect(refusedCause.on).toBeUndefined(); // telegraf's copy of the request (chat ids, texts) is not kept
    // Asked to wait.
    emu.inject({ kind: '429', retryAfter: 1, method: 'getChatMember' });
    const wait = await client.call('getChatMember', { chat_id: group, user_id: owner.id }, { lane: 'removal' }).catch((e: unknown) => e);
    expect(wait).toBeInstanceOf(RetryAfterError);
    expect(wait).toMatchObject({ method: 'getChatMember' });
    expect((wait as Error).cause).toBeInstanceOf(Error);
    // A 5xx.
    await clock.advance(1000);
    emu.inject({ kind: '5xx', status: 502, method: 'getChat' });
    const down = await client.call('getChat', { chat_id: group }, { lane: 'system' }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(ProviderUnreachableError);
    expect(down).toMatchObject({ method: 'getChat' });
    expect((down as Error).cause).toBeInstanceOf(Error);

    // Unreachable (the network failed): nothing listens on the port.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const offline = new Telegraf(TOKEN, { telegram: { apiRoot: `http://127.0.0.1:${port}` } });
    const nowhere = new BotApiClient(offline.telegram.callApi.bind(offline.telegram) as unknown as ApiCaller, limiter, { timeoutMs: 2000 });
    const unreachable = await nowhere.call('getChat', { chat_id: group }, { lane: 'system' }).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(ProviderUnreachableError);
    expect(unreachable).toMatchObject({ method: 'getChat', provider: 'telegram' });
    const cause = (unreachable as Error).cause as Error;
    expect(cause).toBeInstanceOf(Error);
    expect(`${cause.message}\n${cause.stack}\n${String((cause.cause as Error | undefined)?.message)}`).toMatch(/ECONNREFUSED|connect/i);
    const secret = TOKEN.split(':')[1]!;
    for (let e: unknown = unreachable; e instanceof Error; e = e.cause) {
      expect(e.message).not.toContain(secret);
      expect(String(e.stack)).not.toContain(secret);
    }
  });

  it('delivers only the update types asked for, and one long poll at a time', async () => {
    const bot = new Telegraf(TOKEN, { telegram: { apiRoot: emu.url } });
    const call = (m: string, p: Record<string, unknown>) => (bot.telegram.callApi as unknown as ApiCaller)(m, p, {});
    await call('getUpdates', { allowed_updates: ['message'] });
    emu.addBot(group, owner);
    emu.sendText(owner, 'hello');
    const got = (await call('getUpdates', { offset: 0 })) as Array<Record<string, unknown>>;
    expect(got.map((u) => Object.keys(u).find((k) => k !== 'update_id'))).toEqual(['message']);
    expect(emu.dropped).toContain('my_chat_member');
    // Confirmed by the next offset.
    expect(await call('getUpdates', { offset: (got[0]!.update_id as number) + 1 })).toEqual([]);
    // A second long poll ends the first with 409.
    const first = call('getUpdates', { timeout: 5 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const second = call('getUpdates', { timeout: 0 });
    await second;
    const third = call('getUpdates', { timeout: 5 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    expect(String((await first) as Error)).toContain('409');
    emu.sendText(owner, 'wake');
    expect(((await third) as unknown[]).length).toBe(1);
  });

  it('splits long texts at line ends into messages Telegram accepts', () => {
    expect(splitText('a\nb')).toEqual(['a\nb']);
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
    const parts = splitText(lines);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => p.length <= 4000)).toBe(true);
    expect(parts.join('\n')).toBe(lines);
    const one = splitText('y'.repeat(9000));
    expect(one.map((p) => p.length)).toEqual([4000, 4000, 1000]);
    expect(splitText('')).toEqual([' ']);
  });
});
