// The Telegram adapter: builds every feature on one telegraf bot and one rate-limited Bot API client,
// receives updates by long polling (getUpdates) or by webhook (POST /webhooks/telegram, checked against
// X-Telegram-Bot-Api-Secret-Token in constant time), and dispatches them through telegraf's
// `bot.handleUpdate`. Updates of one person or one group are handled in order; different people in
// parallel. `allowed_updates` names every update type the features below use.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Telegraf } from 'telegraf';
import type { Update } from 'telegraf/types';
import type { Clock, Logger } from '../../src/app/ports.ts';
import type { Conversation } from '../../src/conversation/types.ts';
import { ProviderRejectedError, RetryAfterError } from '../../src/domain/errors.ts';
import { type ApiCaller, BotApiClient, type TelegramLimiter } from './bot-api-client.ts';
import type { TelegramContext, TelegramDeps } from './context.ts';
import { GroupBinding } from './group-binding.ts';
import { JoinRequests } from './join-requests.ts';
import { PrivateChat } from './private-chat.ts';
import { StarsProvider } from './stars-provider.ts';
import { TelegramGateway } from './telegram-gateway.ts';
import {
  ALLOWED_UPDATES,
  asCallbackQuery,
  asChatMemberUpdated,
  asJoinRequest,
  asMessage,
  asPreCheckoutQuery,
  asSubscriptionUpdated,
  type TgUser,
} from './updates.ts';

export const WEBHOOK_PATH = '/webhooks/telegram';
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** Telegram's rule for setWebhook's secret_token. */
const SECRET_RE = /^[A-Za-z0-9_-]{1,256}$/;
const SEEN_UPDATES = 5000;

export interface TelegramAdapterOptions {
  token: string;
  apiRoot: string;
  mode: 'polling' | 'webhook';
  webhookSecret?: string;
  /** Where Telegram posts updates in webhook mode: PUBLIC_URL + /webhooks/telegram. */
  webhookUrl: string;
  /** Build the `stars` payment provider (PAYMENT_PROVIDERS includes stars). */
  stars: boolean;
  /** getUpdates long-poll wait, seconds. */
  pollTimeoutSec: number;
  /** Any other Bot API call gives up after this long (then it counts as unreachable and is retried). */
  requestTimeoutMs: number;
  /** A webhook answers 200 after this long even if the update is still being handled (Telegram would resend it). */
  webhookAnswerMs: number;
  /** How long stop() waits for updates being handled. */
  stopGraceMs: number;
}

export const DEFAULT_OPTIONS = { pollTimeoutSec: 25, requestTimeoutMs: 30_000, webhookAnswerMs: 25_000, stopGraceMs: 5_000 };

export interface TelegramAdapterInput {
  options: Omit<TelegramAdapterOptions, keyof typeof DEFAULT_OPTIONS> & Partial<TelegramAdapterOptions>;
  deps: TelegramDeps;
  limiter: TelegramLimiter;
  conversation: Conversation;
  clock: Clock;
  logger: Logger;
}

export interface TelegramHealth {
  mode: 'polling' | 'webhook';
  state: 'idle' | 'starting' | 'running' | 'stopped' | 'failed';
  bot: string | null;
  lastUpdateAt: number | null;
  lastPollAt: number | null;
  pollFailures: number;
  lastError: string | null;
  calls: number;
  throttled: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant time whatever the lengths: both sides are hashed first. */
export const secretMatches = (given: string, expected: string) => timingSafeEqual(digest(given), digest(expected));

export class TelegramAdapter {
  readonly options: TelegramAdapterOptions;
  readonly bot: Telegraf;
  readonly client: BotApiClient;
  readonly gateway: TelegramGateway;
  readonly stars: StarsProvider | null;
  private readonly ctx: TelegramContext;
  private readonly chat: PrivateChat;
  private readonly joins: JoinRequests;
  private readonly groups: GroupBinding;
  private me: TgUser | null = null;
  private meCall: Promise<TgUser> | null = null;
  private state: TelegramHealth['state'] = 'idle';
  private stopped = false;
  private startPromise: Promise<void> | null = null;
  private pollLoop: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private wakeStop: (() => void) | null = null;
  private readonly stopSignal: Promise<void>;
  private readonly queues = new Map<string, Promise<void>>();
  private readonly seen = new Set<number>();
  private lastUpdateAt: number | null = null;
  private lastPollAt: number | null = null;
  private pollFailures = 0;
  private lastError: string | null = null;

  constructor(private readonly input: TelegramAdapterInput) {
    this.options = { ...DEFAULT_OPTIONS, ...input.options };
    const o = this.options;
    if (o.mode === 'webhook' && (!o.webhookSecret || !SECRET_RE.test(o.webhookSecret))) {
      throw new Error('TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram sends it back in every webhook request)');
    }
    this.stopSignal = new Promise((resolve) => (this.wakeStop = resolve));
    this.bot = new Telegraf(o.token, { telegram: { apiRoot: o.apiRoot, webhookReply: false }, handlerTimeout: 10 * 60_000 });
    const api = this.bot.telegram.callApi.bind(this.bot.telegram) as unknown as ApiCaller;
    this.client = new BotApiClient(api, input.limiter, {
      get timeoutMs() {
        return o.requestTimeoutMs;
      },
    });
    this.ctx = {
      deps: input.deps,
      client: this.client,
      clock: input.clock,
      logger: input.logger,
      botId: () => this.me?.id ?? null,
      stopping: () => this.stopped,
    };
    this.gateway = new TelegramGateway(this.ctx);
    this.stars = o.stars ? new StarsProvider(this.ctx) : null;
    this.chat = new PrivateChat(this.ctx, input.conversation, this.gateway, () => this.stars);
    this.joins = new JoinRequests(this.ctx, input.conversation, this.chat);
    this.groups = new GroupBinding(this.ctx, this.gateway);
    this.register();
  }

  // ------------------------------------------------------------ dispatch

  private register(): void {
    const log = (what: string) => this.input.logger.warn({ update: what }, 'telegram: malformed update ignored');
    this.bot.on('message', async (ctx) => {
      const msg = asMessage(ctx.update.message);
      if (!msg) return log('message');
      if (msg.chat.type === 'private') return this.chat.onMessage(msg);
      if (msg.chat.type === 'group' || msg.chat.type === 'supergroup') return this.groups.onGroupMessage(msg);
    });
    this.bot.on('callback_query', async (ctx) => {
      const q = asCallbackQuery(ctx.update.callback_query);
      return q ? this.chat.onCallback(q) : log('callback_query');
    });
    this.bot.on('chat_join_request', async (ctx) => {
      const r = asJoinRequest(ctx.update.chat_join_request);
      return r ? this.joins.onJoinRequest(r) : log('chat_join_request');
    });
    this.bot.on('my_chat_member', async (ctx) => {
      const u = asChatMemberUpdated(ctx.update.my_chat_member);
      return u ? this.groups.onMyChatMember(u) : log('my_chat_member');
    });
    this.bot.on('chat_member', async (ctx) => {
      const u = asChatMemberUpdated(ctx.update.chat_member);
      return u ? this.groups.onChatMember(u) : log('chat_member');
    });
    this.bot.on('pre_checkout_query', async (ctx) => {
      const q = asPreCheckoutQuery(ctx.update.pre_checkout_query);
      if (!q) return log('pre_checkout_query');
      if (this.stars) return this.stars.onPreCheckoutQuery(q);
      // Without the stars provider nothing can be bought with an invoice: refuse rather than let it time out.
      await this.client.call(
        'answerPreCheckoutQuery',
        {
          pre_checkout_query_id: q.id,
          ok: false,
          error_message: this.input.deps.messages.render(q.from.language_code ?? null, { key: 'telegram.stars_not_payable', params: {} }),
        },
        { lane: 'invite' },
      );
    });
    // Bot API `subscription` (a Stars subscription changed); telegraf 4.16 does not know the update type.
    this.bot.use(async (ctx, next) => {
      const raw = (ctx.update as { subscription?: unknown }).subscription;
      if (raw === undefined) return next();
      const u = asSubscriptionUpdated(raw);
      if (!u) return log('subscription');
      if (this.stars) await this.stars.onSubscriptionUpdated(u);
    });
    // Errors reach handleUpdate's caller: the webhook answers 500 (Telegram resends), polling retries.
    this.bot.catch((err) => {
      throw err;
    });
  }

  /** Updates of one person (or one group) in order; others in parallel. */
  private keyOf(u: Record<string, unknown>): string {
    const pick = (v: unknown, path: string[]): unknown => path.reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), v);
    if (isObj(u.message)) {
      const type = pick(u.message, ['chat', 'type']);
      return type === 'private' ? `user:${String(pick(u.message, ['from', 'id']))}` : `chat:${String(pick(u.message, ['chat', 'id']))}`;
    }
    if (isObj(u.callback_query)) return `user:${String(pick(u.callback_query, ['from', 'id']))}`;
    if (isObj(u.chat_join_request)) return `user:${String(pick(u.chat_join_request, ['from', 'id']))}`;
    if (isObj(u.my_chat_member)) return `chat:${String(pick(u.my_chat_member, ['chat', 'id']))}`;
    if (isObj(u.chat_member)) return `chat:${String(pick(u.chat_member, ['chat', 'id']))}`;
    return `update:${String(u.update_id)}`;
  }

  /** Handles one raw update (from getUpdates or the webhook). Throws when our side failed and it should be delivered again. */
  handleUpdate(raw: unknown): Promise<void> {
    if (!isObj(raw) || typeof raw.update_id !== 'number' || !Number.isSafeInteger(raw.update_id)) {
      this.input.logger.warn({}, 'telegram: an update without update_id was ignored');
      return Promise.resolve();
    }
    const key = this.keyOf(raw);
    const prev = this.queues.get(key) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => this.process(raw));
    const tail = run.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private async process(raw: Record<string, unknown>): Promise<void> {
    const id = raw.update_id as number;
    if (this.seen.has(id)) return;
    await this.whoAmI();
    await this.bot.handleUpdate(raw as unknown as Update);
    this.lastUpdateAt = this.input.clock.now();
    this.seen.add(id);
    if (this.seen.size > SEEN_UPDATES) this.seen.delete(this.seen.values().next().value!);
  }

  /** getMe once (through the limiter); telegraf needs botInfo before it handles anything. */
  private async whoAmI(): Promise<TgUser> {
    if (this.me) return this.me;
    this.meCall ??= this.client.call<TgUser>('getMe', {}, { lane: 'system' }).then(
      (me) => {
        this.me = me;
        this.bot.botInfo = me as Telegraf['botInfo'];
        return me;
      },
      (err: unknown) => {
        this.meCall = null;
        throw err;
      },
    );
    return this.meCall;
  }

  // ------------------------------------------------------------ lifecycle

  /** Connects (getMe), then polls or registers the webhook. Retries until it works or stop() is called. */
  start(): Promise<void> {
    this.startPromise ??= this.connect();
    return this.startPromise;
  }

  private async connect(): Promise<void> {
    this.state = 'starting';
    const o = this.options;
    const retry = <T>(fn: () => Promise<T>) => this.untilStopped(fn);
    try {
      await retry(() => this.whoAmI());
      if (this.stopped) return;
      if (o.mode === 'polling') {
        await retry(() => this.client.call('deleteWebhook', { drop_pending_updates: false }, { lane: 'system' }));
        if (this.stopped) return;
        this.pollLoop = this.poll();
      } else {
        await retry(() =>
          this.client.call(
            'setWebhook',
            { url: o.webhookUrl, secret_token: o.webhookSecret, allowed_updates: ALLOWED_UPDATES, max_connections: 40 },
            { lane: 'system' },
          ),
        );
      }
      if (!this.stopped) this.state = 'running';
      this.input.logger.info({ mode: o.mode, bot: this.me?.username ?? null }, 'telegram adapter running');
    } catch (err) {
      this.state = 'failed';
      this.lastError = err instanceof Error ? err.message : String(err);
      // Logged here, once (the service does not log it again; /healthz shows lastError).
      this.input.logger.error({ err }, 'telegram adapter could not start');
      throw err;
    }
  }

  /** Retries a start-up call with backoff until it works; a rejection (bad token) will not fix itself. */
  private async untilStopped<T>(fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        if (err instanceof ProviderRejectedError) throw err;
        const wait = err instanceof RetryAfterError ? err.retryAfterMs : Math.min(60_000, 1000 * 2 ** Math.min(attempt - 1, 6));
        this.input.logger.warn({ err: this.lastError, retryInMs: wait }, 'telegram: start-up call failed, will retry');
        await this.sleep(wait);
      }
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return Promise.race([this.input.clock.sleep(ms), this.stopSignal]);
  }

  private async poll(): Promise<void> {
    const o = this.options;
    let offset = 0;
    while (!this.stopped) {
      let updates: unknown[];
      try {
        const r = await this.client.unthrottled<unknown>(
          'getUpdates',
          { offset, timeout: o.pollTimeoutSec, allowed_updates: ALLOWED_UPDATES },
          o.pollTimeoutSec * 1000 + o.requestTimeoutMs,
          this.abort.signal,
        );
        updates = Array.isArray(r) ? r : [];
        this.pollFailures = 0;
        this.lastPollAt = this.input.clock.now();
      } catch (err) {
        if (this.stopped) break;
        this.pollFailures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        const wait = err instanceof RetryAfterError ? err.retryAfterMs : Math.min(30_000, 500 * 2 ** Math.min(this.pollFailures - 1, 6));
        this.input.logger.warn({ err: this.lastError, retryInMs: wait }, 'telegram: getUpdates failed');
        await this.sleep(wait);
        continue;
      }
      // The batch is acknowledged (the next offset) only once handled; a failure of our own is retried a
      // few times first (payments and join requests are idempotent, and reconcile backs Stars up).
      await Promise.all(updates.map((u) => this.handleWithRetries(u)));
      for (const u of updates) if (isObj(u) && typeof u.update_id === 'number') offset = Math.max(offset, u.update_id + 1);
    }
  }

  /** A failure of our own (database…) is tried again a few times; a platform refusal is not. */
  private async handleWithRetries(u: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.handleUpdate(u);
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        if (attempt >= 3 || this.stopped || err instanceof ProviderRejectedError) {
          // The boundary for an update: logged once, as the error itself (stack, method, cause).
          this.input.logger.error({ err, updateId: isObj(u) ? u.update_id : null }, 'telegram: update could not be handled');
          return;
        }
        await this.sleep(1000 * attempt);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeStop?.();
    this.abort.abort();
    await this.startPromise?.catch(() => {});
    await this.pollLoop;
    // Updates still being handled get a moment; one waiting on the platform's pace is not waited for.
    const pending = Promise.allSettled([...this.queues.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.stopGraceMs)))]);
    clearTimeout(timer);
    this.state = 'stopped';
  }

  health(): TelegramHealth {
    return {
      mode: this.options.mode,
      state: this.state,
      bot: this.me?.username ?? null,
      lastUpdateAt: this.lastUpdateAt,
      lastPollAt: this.lastPollAt,
      pollFailures: this.pollFailures,
      lastError: this.lastError,
      calls: this.client.stats.calls,
      throttled: this.client.stats.retryAfter,
    };
  }

  // ------------------------------------------------------------ webhook

  /** POST /webhooks/telegram as a Fastify plugin (webhook mode only). The secret is checked before the body is read. */
  webhookRoute(): (app: FastifyInstance) => Promise<void> {
    return async (app) => {
      app.addHook('onRequest', async (req, reply) => {
        const value = req.headers[SECRET_HEADER];
        const given = Array.isArray(value) ? value[0] : value;
        if (!given) {
          this.input.logger.warn({}, 'telegram webhook without secret token rejected');
          return reply.status(401).send({ error: 'unauthorized', message: 'missing X-Telegram-Bot-Api-Secret-Token' });
        }
        if (!secretMatches(given, this.options.webhookSecret ?? '')) {
          this.input.logger.warn({}, 'telegram webhook with a wrong secret token rejected');
          return reply.status(403).send({ error: 'forbidden', message: 'wrong secret token' });
        }
      });
      app.post(WEBHOOK_PATH, { bodyLimit: 1024 * 1024 }, async (req, reply) => {
        const body = req.body;
        if (!isObj(body) || typeof body.update_id !== 'number') return reply.status(400).send({ error: 'bad_request', message: 'not a Telegram update' });
        let timer: NodeJS.Timeout | undefined;
        try {
          const handled = this.handleUpdate(body);
          // Past the deadline the update keeps being handled; Telegram is told it arrived so it does not resend.
          await Promise.race([handled, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.webhookAnswerMs)))]);
          return reply.status(200).send({ ok: true });
        } catch (err) {
          this.lastError = err instanceof Error ? err.message : String(err);
          req.log.error({ err }, 'telegram update failed; Telegram will resend it');
          return reply.status(500).send({ error: 'internal', message: 'update not handled, please resend' });
        } finally {
          clearTimeout(timer);
        }
      });
    };
  }
}

export function createTelegramAdapter(input: TelegramAdapterInput): TelegramAdapter {
  return new TelegramAdapter(input);
}
