// The one door to the Bot API. Every call (except the getUpdates long poll, which sends nothing) first
// waits for the shared OutboundLimiter, then goes out through telegraf's `callApi` (which also reaches
// methods newer than telegraf's types), and every failure comes back as one of the core's typed errors:
//   429            → the limiter pauses the whole platform for retry_after, then RetryAfterError;
//   5xx, network,
//   timeout        → ProviderUnreachableError (retried with backoff by whoever called);
//   other 4xx      → TelegramApiError, a ProviderRejectedError (the platform said no: retrying won't help);
//   400 + migrate_to_chat_id → ChatMigratedError (the group became a supergroup: follow the new id).
// Each names the Bot API method (`method`) and keeps telegraf's error as its `cause`, with the bot token
// taken out of its text and stack and nothing else of it kept (telegraf's error carries the payload).
import { TelegramError } from 'telegraf';
import type { Clock, Lane } from '../../src/app/ports.ts';
import { ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../../src/domain/errors.ts';
import type { AcquireRequest } from '../../src/jobs/outbound-limiter.ts';

/** The limiter's two methods the client needs (the service's OutboundLimiter). */
export interface TelegramLimiter {
  acquire(req: AcquireRequest): Promise<void>;
  pause(platform: string, ms: number): void;
}

/** telegraf's `telegram.callApi`, typed loosely so any method name can be called. */
export type ApiCaller = (method: string, payload: Record<string, unknown>, opts: { signal?: AbortSignal }) => Promise<unknown>;

/**
 * Methods that post a message into a chat: only these count toward Telegram's message windows (30/s overall,
 * per chat, per group). Every other method (invite links, join-request answers, bans, getChatMember, …)
 * acquires the limiter as a `call`, which has a window of its own (TELEGRAM_RATE_CALLS_PER_SECOND).
 */
export const MESSAGE_METHODS: ReadonlySet<string> = new Set(['sendMessage', 'sendPhoto', 'sendInvoice', 'sendDocument', 'copyMessage', 'forwardMessage']);

export interface CallOptions {
  lane: Lane;
  /** Overrides the client's default timeout. */
  timeoutMs?: number;
}

/** The Bot API refused a call (4xx other than 429). `description` is Telegram's own text, e.g. "Bad Request: chat not found". */
export class TelegramApiError extends ProviderRejectedError {
  constructor(
    override readonly method: string,
    readonly code: number,
    readonly description: string,
    cause?: unknown,
  ) {
    super('telegram', `${method}: ${description}`, undefined, { method, cause });
    this.name = 'TelegramApiError';
  }

  /** True when Telegram's description contains this text (case-insensitive), e.g. `HIDE_REQUESTER_MISSING`. */
  says(text: string): boolean {
    return this.description.toLowerCase().includes(text.toLowerCase());
  }
}

/** The group was upgraded to a supergroup; calls must use `newChatId` from now on. */
export class ChatMigratedError extends TelegramApiError {
  constructor(
    method: string,
    description: string,
    readonly newChatId: string,
    cause?: unknown,
  ) {
    super(method, 400, description, cause);
    this.name = 'ChatMigratedError';
  }
}

export const isApiError = (err: unknown, text?: string): err is TelegramApiError => err instanceof TelegramApiError && (text === undefined || err.says(text));

/** Group and supergroup ids are negative; a private chat's id is the user's (positive) id. */
export const isGroupChatId = (chatId: string | number) => String(chatId).startsWith('-');

const redact = (s: string) => s.replace(/bot\d+:[A-Za-z0-9_-]+/g, 'bot<token>');

/**
 * The underlying error as a `cause` that is safe to log: its name, code, message and stack with the token
 * redacted (a network error's text names the URL, which holds it), and its own cause likewise; nothing
 * else (telegraf's TelegramError carries the request payload: chat ids, texts).
 */
export function scrubbed(err: unknown, depth = 0): Error {
  if (!(err instanceof Error)) return new Error(redact(String(err)).slice(0, 300));
  const copy: Error & { code?: unknown } = new Error(redact(err.message));
  copy.name = err.name;
  copy.stack = err.stack === undefined ? undefined : redact(err.stack);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') copy.code = code;
  if (err.cause !== undefined && depth < 4) copy.cause = scrubbed(err.cause, depth + 1);
  return copy;
}

export interface ClientStats {
  calls: number;
  retryAfter: number;
  unreachable: number;
  rejected: number;
}

export class BotApiClient {
  /** Rate-limited calls that have their limiter slot and are on the wire (tests wait for 0 before moving a fake clock). */
  inFlight = 0;
  readonly stats: ClientStats = { calls: 0, retryAfter: 0, unreachable: 0, rejected: 0 };

  constructor(
    private readonly api: ApiCaller,
    private readonly limiter: TelegramLimiter,
    readonly options: { timeoutMs: number },
  ) {}

  /**
   * A rate-limited call. A message method takes the message windows (`chat_id` decides the per-chat or
   * per-group one); any other method the window of calls that post nothing.
   */
  async call<T = unknown>(method: string, params: Record<string, unknown>, opts: CallOptions): Promise<T> {
    const message = MESSAGE_METHODS.has(method);
    const chatId = message && params.chat_id !== undefined ? String(params.chat_id) : undefined;
    await this.limiter.acquire({
      platform: 'telegram',
      chatId,
      isGroup: chatId !== undefined && isGroupChatId(chatId),
      lane: opts.lane,
      kind: message ? 'message' : 'call',
    });
    this.inFlight++;
    try {
      return await this.send<T>(method, params, opts.timeoutMs ?? this.options.timeoutMs);
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Without the limiter: only for getUpdates, a long poll that posts nothing (it would otherwise hold a slot
   * of the overall window for its whole wait). Its 429 still pauses everyone else.
   */
  async unthrottled<T = unknown>(method: string, params: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    return this.send<T>(method, params, timeoutMs, signal);
  }

  private async send<T>(method: string, params: Record<string, unknown>, timeoutMs: number, outer?: AbortSignal): Promise<T> {
    this.stats.calls++;
    const signal = outer ? AbortSignal.any([outer, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    try {
      return (await this.api(method, params, { signal })) as T;
    } catch (err) {
      throw this.translate(method, err, outer);
    }
  }

  private translate(method: string, err: unknown, outer?: AbortSignal): Error {
    const cause = scrubbed(err);
    if (err instanceof TelegramError) {
      const code = err.code;
      const description = String(err.description ?? 'no description');
      if (code === 429) {
        const seconds = Math.max(1, Math.ceil(Number(err.parameters?.retry_after) || 1));
        this.limiter.pause('telegram', seconds * 1000);
        this.stats.retryAfter++;
        return new RetryAfterError(seconds * 1000, `telegram ${method}: too many requests, retry after ${seconds} s`, { method, cause });
      }
      if (code >= 500 || code === 0) {
        this.stats.unreachable++;
        return new ProviderUnreachableError('telegram', `${method}: ${code} ${redact(description)}`, { method, cause });
      }
      this.stats.rejected++;
      const migrated = err.parameters?.migrate_to_chat_id;
      if (migrated !== undefined) return new ChatMigratedError(method, description, String(migrated), cause);
      return new TelegramApiError(method, code, redact(description), cause);
    }
    this.stats.unreachable++;
    const message = err instanceof Error ? err.message : String(err);
    if (outer?.aborted) return new ProviderUnreachableError('telegram', `${method}: stopped`, { method, cause });
    return new ProviderUnreachableError('telegram', `${method}: ${redact(message).split('\n')[0]}`, { method, cause });
  }
}

/**
 * For calls made while someone waits (a reply, a join-request decision): a 429 waits as asked (the limiter
 * is paused, so the next acquire waits), a transient failure is retried with backoff on the clock, a
 * rejection is thrown at once. Bounded: after `attempts` tries the last error is thrown.
 */
export async function withRetries<T>(fn: () => Promise<T>, clock: Clock, opts: { attempts?: number; baseMs?: number; stop?: () => boolean } = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const baseMs = opts.baseMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || opts.stop?.()) throw err;
      if (err instanceof RetryAfterError) continue;
      if (err instanceof ProviderUnreachableError) {
        await clock.sleep(Math.min(30_000, baseMs * 2 ** (attempt - 1)));
        continue;
      }
      throw err;
    }
  }
}
