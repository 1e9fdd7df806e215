// A strict loopback Telegram Bot API server for tests: `http://127.0.0.1:<port>/bot<token>/<method>`, JSON,
// form or multipart parameters, and the real response envelope ({ok, result} or {ok:false, error_code,
// description, parameters}). It keeps users, chats, members with their admin rights, invite links, join
// requests, invoices and Star transactions, checks parameters and rights the way the real API does, and
// produces updates — through getUpdates (long poll, offset, allowed_updates) or by POSTing them to a
// webhook with the secret-token header. Limits (30 messages/s overall, 1 message/s per private chat, 20
// messages/min per group; the calls that post no message in a window of their own, 30/s) are enforced on an injectable clock (the tests' virtual clock, so limiter and
// emulator agree to the millisecond); a call over a limit gets 429 with retry_after and is recorded as a
// violation. Tests can also inject 429s, 5xx and slow answers, which are not violations.
//
// Descriptions mimic the real ones where they are known (chat not found, HIDE_REQUESTER_MISSING,
// USER_ALREADY_PARTICIPANT, CHAT_ADMIN_REQUIRED, "bot was blocked by the user", …). Simplifications: basic
// groups ban like supergroups; http webhooks are accepted on loopback addresses only.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EmulatorClock {
  now(): number;
}

export interface EmulatorLimits {
  /** Messages (sendMessage, sendPhoto, …) per second, overall. */
  perSecond: number;
  /** Calls that post no message (invite links, join requests, bans, getChatMember, …) per second, overall. */
  callsPerSecond: number;
  perChatPerSecond: number;
  perGroupPerMinute: number;
}

export interface EmulatorOptions {
  token: string;
  /** Time for dates, limits and expiries; defaults to real time. */
  clock?: EmulatorClock;
  /** `false` turns limit checks off. */
  limits?: Partial<EmulatorLimits> | false;
  botUsername?: string;
  /** Real-time pause before a failed webhook delivery is tried again. */
  webhookRetryMs?: number;
  /** Deliveries of one update before it is dropped (Telegram gives up eventually too). */
  webhookAttempts?: number;
}

export interface User {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export type ChatType = 'private' | 'group' | 'supergroup' | 'channel';
export type MemberStatus = 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked';

export interface AdminRights {
  can_manage_chat: boolean;
  can_delete_messages: boolean;
  can_manage_video_chats: boolean;
  can_restrict_members: boolean;
  can_promote_members: boolean;
  can_change_info: boolean;
  can_invite_users: boolean;
  can_pin_messages: boolean;
  can_post_stories: boolean;
  can_edit_stories: boolean;
  can_delete_stories: boolean;
}

export const FULL_RIGHTS: AdminRights = {
  can_manage_chat: true,
  can_delete_messages: true,
  can_manage_video_chats: true,
  can_restrict_members: true,
  can_promote_members: false,
  can_change_info: true,
  can_invite_users: true,
  can_pin_messages: true,
  can_post_stories: false,
  can_edit_stories: false,
  can_delete_stories: false,
};

interface MemberRec {
  status: MemberStatus;
  rights?: AdminRights;
  until_date?: number;
}

interface ChatRec {
  id: number;
  type: ChatType;
  title?: string;
  members: Map<number, MemberRec>;
  migratedTo?: number;
  joinRequests: Map<number, { date: number; link: string | null }>;
}

// Join-request queries of guard bots (Bot API 10.1). ChatJoinRequest.query_id: "If present, then the bot must
// call sendChatJoinRequestWebApp or directly call answerChatJoinRequestQuery within 10 seconds"
// (core.telegram.org/bots/api#chatjoinrequest; the same text in the typed Bot API clients, e.g. aiogram's
// SendChatJoinRequestWebApp / AnswerChatJoinRequestQuery). How long a query stays answerable once its Mini App is
// open is not documented; the emulator keeps it open JOIN_QUERY_WEBAPP_MS (the app assumes no more, see
// app/door.ts). A late or repeated answer is refused like a stale callback query.
export const JOIN_QUERY_FIRST_ANSWER_MS = 10_000;
export const JOIN_QUERY_WEBAPP_MS = 15 * 60_000;
const QUERY_TOO_OLD = 'query is too old and response timeout expired or query ID is invalid';

interface JoinQueryRec {
  chatId: number;
  userId: number;
  at: number;
  webAppAt: number | null;
  answer: 'approve' | 'decline' | 'queue' | null;
}

export interface InviteLinkRec {
  chatId: number;
  invite_link: string;
  creator: number;
  name?: string;
  expire_date?: number;
  member_limit?: number;
  creates_join_request: boolean;
  is_revoked: boolean;
  is_primary: boolean;
  joined: number;
}

export interface SentMessage {
  message_id: number;
  chat_id: number;
  date: number;
  text?: string;
  caption?: string;
  photo?: Buffer;
  reply_markup?: { inline_keyboard: Array<Array<{ text: string; callback_data?: string; url?: string }>> };
  invoice?: { title: string; description: string; payload: string; currency: string; total_amount: number };
}

interface InvoiceRec {
  title: string;
  description: string;
  payload: string;
  currency: string;
  total_amount: number;
  chatId?: number;
  link?: string;
  /** createInvoiceLink's subscription_period: the invoice starts a Stars subscription. */
  subscriptionPeriod?: number;
}

/** A Stars subscription (the first charge's id is its id, as editUserStarSubscription takes it). */
export interface StarSubscription {
  chargeId: string;
  user: User;
  payload: string;
  amount: number;
  period: number;
  /** subscription_expiration_date of the last charge (Unix seconds). */
  expiresAt: number;
  canceledByBot: boolean;
  canceledByUser: boolean;
}

export interface StarTransaction {
  id: string;
  amount: number;
  date: number;
  source?: { type: 'user'; user: User; invoice_payload: string };
  receiver?: { type: 'user'; user: User; invoice_payload: string };
}

export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
  status: number;
  description?: string;
  injected?: boolean;
}

export interface Violation {
  method: string;
  rule: 'overall' | 'calls' | 'chat' | 'group';
  chatId?: number;
  at: number;
}

export type Fault = {
  /** Which methods it hits (all when omitted). */
  method?: string | RegExp;
  /** How many calls it hits (1 when omitted). */
  times?: number;
  /** Hit only every n-th matching call. */
  every?: number;
} & (
  | { kind: '429'; retryAfter: number }
  | { kind: '5xx'; status?: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'hold'; until: Promise<unknown> }
  | { kind: 'error'; code: number; description: string }
);

export type Update = { update_id: number } & Record<string, unknown>;

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: Record<string, unknown>,
  ) {
    super(description);
  }
}

const bad = (description: string, parameters?: Record<string, unknown>) => new ApiError(400, `Bad Request: ${description}`, parameters);
const forbidden = (description: string) => new ApiError(403, `Forbidden: ${description}`);

const DEFAULT_LIMITS: EmulatorLimits = { perSecond: 30, callsPerSecond: 30, perChatPerSecond: 1, perGroupPerMinute: 20 };
const MESSAGE_METHODS = new Set(['sendMessage', 'sendPhoto', 'sendInvoice', 'sendDocument', 'copyMessage', 'forwardMessage']);
const DEFAULT_UPDATES = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'callback_query',
  'my_chat_member',
  'chat_join_request',
  'pre_checkout_query',
  'shipping_query',
  'inline_query',
  'chosen_inline_result',
  'poll',
  'poll_answer',
];

type Params = Record<string, unknown>;
interface Ctx {
  req: IncomingMessage;
  closed: () => boolean;
}
type Handler = (p: Params, ctx: Ctx) => unknown | Promise<unknown>;

// ------------------------------------------------------------ request parsing

function parseMultipart(body: Buffer, boundary: string): Params {
  const out: Params = {};
  const delim = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(delim);
  for (let guard = 0; pos !== -1 && guard < 1000; guard++) {
    let start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const end = body.indexOf(next, start);
    if (end === -1) break;
    const part = body.subarray(start, end);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const data = part.subarray(headerEnd + 4);
      const name = /name="([^"]*)"/i.exec(headers)?.[1];
      const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
      if (name) out[name] = filename !== undefined ? { filename, data } : data.toString('utf8');
    }
    pos = end + 2;
  }
  return out;
}

async function readParams(req: IncomingMessage, url: URL): Promise<Params> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  const params: Params = Object.fromEntries(url.searchParams.entries());
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (body.length === 0) return params;
  if (type.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw bad("can't parse JSON request body");
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('request body must be a JSON object');
    return { ...params, ...(parsed as Params) };
  }
  if (type.startsWith('application/x-www-form-urlencoded')) return { ...params, ...Object.fromEntries(new URLSearchParams(body.toString('utf8')).entries()) };
  if (type.startsWith('multipart/form-data')) {
    // The boundary as sent (case kept): the content type was lower-cased above.
    const boundary = /boundary=([^;]+)/i.exec(req.headers['content-type'] ?? '')?.[1];
    if (!boundary) throw bad('multipart boundary is missing');
    return { ...params, ...parseMultipart(body, boundary) };
  }
  throw bad('unsupported content type');
}

const isFile = (v: unknown): v is { filename: string; data: Buffer } => typeof v === 'object' && v !== null && Buffer.isBuffer((v as { data?: unknown }).data);

function str(p: Params, name: string, required: true): string;
function str(p: Params, name: string, required?: false): string | undefined;
function str(p: Params, name: string, required = false): string | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw bad(`${name} is empty`);
    return undefined;
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw bad(`field "${name}" must be of type String`);
}

function int(p: Params, name: string, required: true): number;
function int(p: Params, name: string, required?: false): number | undefined;
function int(p: Params, name: string, required = false): number | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw bad(`${name} is empty`);
    return undefined;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw bad(`field "${name}" must be of type Integer`);
  return n;
}

function bool(p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true' || v === 1 || v === '1') return true;
  if (v === false || v === 'false' || v === 0 || v === '0') return false;
  throw bad(`field "${name}" must be of type Boolean`);
}

function json(p: Params, name: string): unknown {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    throw bad(`can't parse ${name} JSON object`);
  }
}

const rand = (n = 16) => randomBytes(n).toString('base64url');
const utf16len = (s: string) => s.length;

// ------------------------------------------------------------ the emulator

export class TelegramEmulator {
  readonly token: string;
  readonly bot: User;
  url = '';
  readonly calls: RecordedCall[] = [];
  readonly violations: Violation[] = [];
  readonly sent: SentMessage[] = [];
  readonly deliveries: Array<{ update_id: number; status: number }> = [];
  readonly updates: Update[] = [];
  readonly dropped: string[] = [];
  readonly transactions: StarTransaction[] = [];
  readonly subscriptions: StarSubscription[] = [];
  readonly links = new Map<string, InviteLinkRec>();
  webhook: { url: string; secret?: string; allowed: string[] | null } | null = null;
  /** Called synchronously with each message the emulator accepts, as it is recorded (benchmarks timestamp arrivals). */
  onSent: ((m: SentMessage) => void) | null = null;

  private server: Server | null = null;
  private readonly clock: EmulatorClock;
  private readonly limits: EmulatorLimits | null;
  private readonly users = new Map<number, { user: User; started: boolean; blocked: boolean; dmUntil: number }>();
  private readonly chats = new Map<number, ChatRec>();
  private readonly invoices = new Map<string, InvoiceRec>();
  private readonly callbackQueries = new Map<string, { answered: boolean; at: number }>();
  private readonly joinQueries = new Map<string, JoinQueryRec>();
  /**
   * Guard-bot mode (Bot API 10.1): join requests through a join-request link carry a `query_id` the bot must
   * answer. Off by default, which is a Bot API without guard-bot support (plain join requests only).
   */
  guardBot = false;
  /** How long a join-request query may still be answered once its Mini App was opened (see JOIN_QUERY_WEBAPP_MS). */
  joinQueryWebAppMs = JOIN_QUERY_WEBAPP_MS;
  /** Mini Apps the bot opened for join requests, in order: the URL and the requester. */
  readonly webApps: Array<{ queryId: string; url: string; userId: number; chatId: number }> = [];
  private readonly preCheckouts = new Map<string, { at: number; resolve: (a: { ok: boolean; error_message?: string }) => void }>();
  private readonly windows = new Map<string, number[]>();
  private faults: Array<Fault & { seen: number; hits: number }> = [];
  private queue: Update[] = [];
  private allowed: Set<string> | null = null;
  private nextUpdateId = 100;
  private nextMessageId = 1;
  private nextUserId = 7_000_001;
  private nextGroupId = 1;
  private poller: { resolve: (v: Update[] | ApiError) => void } | null = null;
  private wakeWebhook: (() => void) | null = null;
  private webhookRunning = false;
  private closed = false;
  private readonly methods: Record<string, Handler>;

  private constructor(private readonly opts: EmulatorOptions) {
    this.token = opts.token;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.limits = opts.limits === false ? null : { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
    const id = Number(opts.token.split(':')[0]);
    this.bot = {
      id: Number.isSafeInteger(id) && id > 0 ? id : 999_000_001,
      is_bot: true,
      first_name: 'Gatekeeper',
      username: opts.botUsername ?? 'gatekeeper_test_bot',
    };
    this.methods = this.buildMethods();
  }

  static async start(opts: EmulatorOptions): Promise<TelegramEmulator> {
    const emu = new TelegramEmulator(opts);
    const server = createServer((req, res) => void emu.serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    emu.server = server;
    emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return emu;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.poller?.resolve([]);
    this.wakeWebhook?.();
    for (const p of this.preCheckouts.values()) p.resolve({ ok: false, error_message: 'closed' });
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private now(): number {
    return this.clock.now();
  }
  private unix(): number {
    return Math.floor(this.now() / 1000);
  }

  // ------------------------------------------------------------ HTTP

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let closed = false;
    res.on('close', () => (closed = true));
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    const send = (status: number, body: unknown) => {
      if (closed || res.writableEnded) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!m || (req.method !== 'POST' && req.method !== 'GET')) return send(404, { ok: false, error_code: 404, description: 'Not Found' });
    if (m[1] !== this.token) return send(401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = Object.keys(this.methods).find((k) => k.toLowerCase() === m[2]!.toLowerCase());
    if (!method) return send(404, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    let params: Params = {};
    const call: RecordedCall = { method, params, at: this.now(), status: 200 };
    this.calls.push(call);
    try {
      params = await readParams(req, url);
      call.params = params;
      const fault = this.takeFault(method);
      if (fault) {
        call.injected = true;
        if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
        else if (fault.kind === 'hold')
          await fault.until; // held open until the test lets it go, then answered normally
        else if (fault.kind === '429') throw new ApiError(429, `Too Many Requests: retry after ${fault.retryAfter}`, { retry_after: fault.retryAfter });
        else if (fault.kind === '5xx') {
          call.status = fault.status ?? 500;
          res.writeHead(call.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: false, error_code: call.status, description: 'Internal Server Error' }));
          return;
        } else throw new ApiError(fault.code, fault.description);
      }
      if (method !== 'getUpdates') this.checkLimits(method, params);
      const result = await this.methods[method]!(params, { req, closed: () => closed || this.closed });
      send(200, { ok: true, result });
    } catch (err) {
      if (err instanceof ApiError) {
        call.status = err.code;
        call.description = err.description;
        return send(err.code, { ok: false, error_code: err.code, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) });
      }
      call.status = 500;
      call.description = err instanceof Error ? err.message : String(err);
      send(500, { ok: false, error_code: 500, description: 'Internal Server Error' });
    }
  }

  // ------------------------------------------------------------ faults and limits

  /** Makes matching calls fail (or wait) instead of being answered normally. */
  inject(fault: Fault): void {
    this.faults.push({ ...fault, seen: 0, hits: 0 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  private takeFault(method: string): Fault | null {
    for (const f of this.faults) {
      const matches = f.method === undefined || (typeof f.method === 'string' ? f.method === method : f.method.test(method));
      if (!matches || f.hits >= (f.times ?? 1)) continue;
      f.seen++;
      if (f.every && f.seen % f.every !== 0) continue;
      f.hits++;
      return f;
    }
    this.faults = this.faults.filter((f) => f.hits < (f.times ?? 1));
    return null;
  }

  private window(key: string, max: number, spanMs: number, now: number): number {
    const stamps = this.windows.get(key) ?? [];
    while (stamps.length > 0 && stamps[0]! <= now - spanMs) stamps.shift();
    this.windows.set(key, stamps);
    return stamps.length < max ? 0 : stamps[stamps.length - max]! + spanMs - now;
  }

  private checkLimits(method: string, p: Params): void {
    if (!this.limits) return;
    const now = this.now();
    // Only messages count toward the message windows; every other call counts in a window of its own.
    const message = MESSAGE_METHODS.has(method);
    const checks: Array<{ key: string; max: number; span: number; rule: Violation['rule']; chatId?: number }> = [
      message
        ? { key: 'all', max: this.limits.perSecond, span: 1000, rule: 'overall' }
        : { key: 'calls', max: this.limits.callsPerSecond, span: 1000, rule: 'calls' },
    ];
    let chatId: number | undefined;
    if (message && p.chat_id !== undefined) {
      chatId = Number(p.chat_id);
      if (Number.isSafeInteger(chatId)) {
        if (chatId < 0) checks.push({ key: `g:${chatId}`, max: this.limits.perGroupPerMinute, span: 60_000, rule: 'group', chatId });
        else checks.push({ key: `c:${chatId}`, max: this.limits.perChatPerSecond, span: 1000, rule: 'chat', chatId });
      }
    }
    for (const c of checks) {
      const wait = this.window(c.key, c.max, c.span, now);
      if (wait > 0) {
        this.violations.push({ method, rule: c.rule, at: now, ...(c.chatId !== undefined ? { chatId: c.chatId } : {}) });
        const s = Math.max(1, Math.ceil(wait / 1000));
        throw new ApiError(429, `Too Many Requests: retry after ${s}`, { retry_after: s });
      }
    }
    for (const c of checks) this.windows.get(c.key)!.push(now);
  }

  // ------------------------------------------------------------ updates

  private isAllowed(type: string): boolean {
    const list = this.webhook ? this.webhook.allowed : this.allowed ? [...this.allowed] : null;
    return (list ?? DEFAULT_UPDATES).includes(type);
  }

  /** Queues an update (dropped, like Telegram does, when its type is not in allowed_updates). */
  private push(type: string, payload: unknown): Update | null {
    if (!this.isAllowed(type)) {
      this.dropped.push(type);
      return null;
    }
    const u: Update = { update_id: this.nextUpdateId++, [type]: payload };
    this.updates.push(u);
    this.queue.push(u);
    this.poller?.resolve(this.queue.slice(0, 100));
    this.wakeWebhook?.();
    return u;
  }

  /** Sends any update as-is (bad input tests); its type filter still applies. */
  pushRaw(type: string, payload: unknown): Update | null {
    return this.push(type, payload);
  }

  /** Updates not yet confirmed (getUpdates offset) or delivered (webhook). */
  get pendingUpdates(): number {
    return this.queue.length;
  }

  private async getUpdates(p: Params, ctx: Ctx): Promise<Update[]> {
    if (this.webhook) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    const offset = int(p, 'offset') ?? 0;
    const limit = int(p, 'limit') ?? 100;
    const timeout = int(p, 'timeout') ?? 0;
    if (limit < 1 || limit > 100) throw bad('limit must be between 1 and 100');
    const allowed = json(p, 'allowed_updates');
    if (allowed !== undefined) {
      if (!Array.isArray(allowed) || allowed.some((t) => typeof t !== 'string')) throw bad("can't parse allowed_updates JSON object");
      this.allowed = allowed.length === 0 ? null : new Set(allowed as string[]);
    }
    if (offset > 0) this.queue = this.queue.filter((u) => u.update_id >= offset);
    const ready = this.queue.filter((u) => u.update_id >= offset).slice(0, limit);
    if (ready.length > 0 || timeout <= 0 || this.closed) return ready;
    // One long poll at a time: a newer one ends the older with 409, as Telegram does.
    this.poller?.resolve(new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
    const got = await new Promise<Update[] | ApiError>((resolve) => {
      let done = false;
      const finish = (v: Update[] | ApiError) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(check);
        if (this.poller === entry) this.poller = null;
        resolve(v);
      };
      const entry = { resolve: finish };
      this.poller = entry;
      const timer = setTimeout(() => finish([]), Math.min(timeout, 50) * 1000);
      const check = setInterval(() => {
        if (ctx.closed()) finish([]);
      }, 50);
    });
    if (got instanceof ApiError) throw got;
    return got.filter((u) => u.update_id >= offset).slice(0, limit);
  }

  private async webhookLoop(): Promise<void> {
    if (this.webhookRunning) return;
    this.webhookRunning = true;
    const attempts = this.opts.webhookAttempts ?? 5;
    let failures = 0;
    try {
      while (this.webhook && !this.closed) {
        const next = this.queue[0];
        if (!next) {
          await new Promise<void>((resolve) => {
            this.wakeWebhook = resolve;
            setTimeout(resolve, 200);
          });
          this.wakeWebhook = null;
          continue;
        }
        let status = 0;
        try {
          const r = await fetch(this.webhook.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(this.webhook.secret ? { 'x-telegram-bot-api-secret-token': this.webhook.secret } : {}) },
            body: JSON.stringify(next),
            signal: AbortSignal.timeout(30_000),
          });
          status = r.status;
          await r.arrayBuffer().catch(() => undefined);
        } catch {
          status = 0;
        }
        this.deliveries.push({ update_id: next.update_id, status });
        if (status >= 200 && status < 300) {
          failures = 0;
          this.queue.shift();
        } else if (++failures >= attempts) {
          failures = 0;
          this.queue.shift();
        } else {
          await new Promise((r) => setTimeout(r, this.opts.webhookRetryMs ?? 100));
        }
      }
    } finally {
      this.webhookRunning = false;
    }
  }

  // ------------------------------------------------------------ world: users and chats

  addUser(first_name: string, o: { last_name?: string; username?: string; language_code?: string; is_bot?: boolean } = {}): User {
    const user: User = {
      id: this.nextUserId++,
      is_bot: o.is_bot ?? false,
      first_name,
      ...(o.last_name ? { last_name: o.last_name } : {}),
      ...(o.username ? { username: o.username } : {}),
      ...(o.language_code ? { language_code: o.language_code } : {}),
    };
    this.users.set(user.id, { user, started: false, blocked: false, dmUntil: 0 });
    this.chats.set(user.id, { id: user.id, type: 'private', members: new Map(), joinRequests: new Map() });
    return user;
  }

  private chatJson(c: ChatRec) {
    if (c.type === 'private') {
      const u = this.users.get(c.id)!.user;
      return {
        id: c.id,
        type: 'private' as const,
        first_name: u.first_name,
        ...(u.last_name ? { last_name: u.last_name } : {}),
        ...(u.username ? { username: u.username } : {}),
      };
    }
    return { id: c.id, type: c.type, title: c.title ?? '' };
  }

  private userOf(id: number): User {
    if (id === this.bot.id) return this.bot;
    const u = this.users.get(id);
    if (!u) throw bad('user not found');
    return u.user;
  }

  /** A group (`supergroup` unless told) with its creator, admins (full rights) and members. The bot is not in it yet. */
  createGroup(o: { title: string; type?: 'group' | 'supergroup'; creator: User; admins?: User[]; members?: User[] }): number {
    const type = o.type ?? 'supergroup';
    const id = type === 'supergroup' ? -(1_000_000_000_000 + this.nextGroupId++) : -(400_000_000 + this.nextGroupId++);
    const c: ChatRec = { id, type, title: o.title, members: new Map(), joinRequests: new Map() };
    c.members.set(o.creator.id, { status: 'creator' });
    for (const a of o.admins ?? []) c.members.set(a.id, { status: 'administrator', rights: { ...FULL_RIGHTS } });
    for (const m of o.members ?? []) c.members.set(m.id, { status: 'member' });
    this.chats.set(id, c);
    return id;
  }

  private chat(id: number): ChatRec {
    const c = this.chats.get(id);
    if (!c) throw new Error(`emulator: no chat ${id}`);
    return c;
  }

  /** A member's status string (left when unknown). */
  status(chatId: number, userId: number): MemberStatus {
    return this.chat(chatId).members.get(userId)?.status ?? 'left';
  }

  isMember(chatId: number, userId: number): boolean {
    const s = this.status(chatId, userId);
    return s === 'creator' || s === 'administrator' || s === 'member' || s === 'restricted';
  }

  botRights(chatId: number): MemberRec | undefined {
    return this.chat(chatId).members.get(this.bot.id);
  }

  private memberJson(c: ChatRec, userId: number) {
    const user = this.userOf(userId);
    const m = c.members.get(userId) ?? { status: 'left' as const };
    switch (m.status) {
      case 'creator':
        return { status: 'creator', user, is_anonymous: false };
      case 'administrator':
        return { status: 'administrator', user, can_be_edited: false, is_anonymous: false, ...(m.rights ?? FULL_RIGHTS) };
      case 'member':
        return { status: 'member', user };
      case 'restricted':
        return { status: 'restricted', user, is_member: true, can_send_messages: false, until_date: m.until_date ?? 0 };
      case 'kicked':
        return { status: 'kicked', user, until_date: m.until_date ?? 0 };
      default:
        return { status: 'left', user };
    }
  }

  /** Changes a member's status and announces it (my_chat_member for the bot, chat_member for others). */
  private setMember(c: ChatRec, userId: number, next: MemberRec, by: User, extra: Record<string, unknown> = {}): void {
    const before = this.memberJson(c, userId);
    if (next.status === 'left') c.members.delete(userId);
    else c.members.set(userId, next);
    const after = this.memberJson(c, userId);
    const update = { chat: this.chatJson(c), from: by, date: this.unix(), old_chat_member: before, new_chat_member: after, ...extra };
    this.push(userId === this.bot.id ? 'my_chat_member' : 'chat_member', update);
  }

  private newMessage(c: ChatRec, from: User, fields: Record<string, unknown>) {
    return { message_id: this.nextMessageId++, from, chat: this.chatJson(c), date: this.unix(), ...fields };
  }

  /** The person writes to the bot in private (which also "starts" the bot for them). */
  sendText(user: User, text: string): Update | null {
    const u = this.users.get(user.id)!;
    u.started = true;
    const entities = text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(/\s/)[0]!.length }] : undefined;
    return this.push('message', this.newMessage(this.chat(user.id), user, { text, ...(entities ? { entities } : {}) }));
  }

  /** A sticker (no text) in private chat. */
  sendSticker(user: User): Update | null {
    this.users.get(user.id)!.started = true;
    return this.push(
      'message',
      this.newMessage(this.chat(user.id), user, {
        sticker: { file_id: rand(), file_unique_id: rand(8), type: 'regular', width: 512, height: 512, is_animated: false, is_video: false },
      }),
    );
  }

  /** A message in a group, from a member. */
  sendToGroup(user: User, chatId: number, text: string): Update | null {
    return this.push('message', this.newMessage(this.chat(chatId), user, { text }));
  }

  /** Edits a (made-up) earlier message: an edited_message update. */
  editText(user: User, text: string): Update | null {
    return this.push('edited_message', { ...this.newMessage(this.chat(user.id), user, { text }), edit_date: this.unix() });
  }

  /** The person blocks the bot: sends to them now fail with 403. */
  block(user: User): void {
    this.users.get(user.id)!.blocked = true;
    const c = this.chat(user.id);
    this.push('my_chat_member', {
      chat: this.chatJson(c),
      from: user,
      date: this.unix(),
      old_chat_member: { status: 'member', user: this.bot },
      new_chat_member: { status: 'kicked', user: this.bot, until_date: 0 },
    });
  }

  /** Messages the bot sent into this chat, oldest first. */
  messagesTo(chatId: number): SentMessage[] {
    return this.sent.filter((m) => m.chat_id === chatId);
  }

  lastMessageTo(chatId: number): SentMessage | undefined {
    return this.messagesTo(chatId).at(-1);
  }

  /**
   * The person taps an inline button of the newest bot message in their chat that has a matching button
   * (by label or callback data). Returns the callback data, or throws when there is no such button.
   */
  press(user: User, match: string | RegExp): string {
    const test = (s: string | undefined) => s !== undefined && (typeof match === 'string' ? s === match : match.test(s));
    for (const m of [...this.messagesTo(user.id)].reverse()) {
      for (const row of m.reply_markup?.inline_keyboard ?? []) {
        for (const b of row) {
          if (b.callback_data !== undefined && (test(b.text) || test(b.callback_data))) {
            const id = rand(12);
            this.callbackQueries.set(id, { answered: false, at: this.now() });
            this.push('callback_query', {
              id,
              from: user,
              message: { message_id: m.message_id, chat: this.chatJson(this.chat(user.id)), date: m.date, text: m.text ?? '' },
              chat_instance: rand(8),
              data: b.callback_data,
            });
            return b.callback_data;
          }
        }
      }
    }
    throw new Error(`emulator: no button matching ${String(match)} in the chat with ${user.first_name}`);
  }

  /** A callback query with any data (a forged or stale button). */
  pressRaw(user: User, data: string): void {
    const id = rand(12);
    this.callbackQueries.set(id, { answered: false, at: this.now() });
    this.push('callback_query', { id, from: user, chat_instance: rand(8), data });
  }

  /** URL buttons of the bot's messages to this chat. */
  urlButtons(chatId: number): Array<{ text: string; url: string; message_id: number }> {
    const out: Array<{ text: string; url: string; message_id: number }> = [];
    for (const m of this.messagesTo(chatId))
      for (const row of m.reply_markup?.inline_keyboard ?? []) for (const b of row) if (b.url) out.push({ text: b.text, url: b.url, message_id: m.message_id });
    return out;
  }

  /** Someone with the right to do so adds the bot to a group, as a member or as an administrator with these rights. */
  addBot(chatId: number, by: User, rights: Partial<AdminRights> | 'member' = FULL_RIGHTS): void {
    const c = this.chat(chatId);
    const adder = c.members.get(by.id);
    if (!adder || (adder.status !== 'creator' && adder.status !== 'administrator')) throw new Error('emulator: only admins can add bots here');
    this.setMember(c, this.bot.id, rights === 'member' ? { status: 'member' } : { status: 'administrator', rights: { ...FULL_RIGHTS, ...rights } }, by);
  }

  /** An admin changes the bot's rights (or demotes it to a plain member). */
  setBotRights(chatId: number, by: User, rights: Partial<AdminRights> | 'member'): void {
    this.setMember(
      this.chat(chatId),
      this.bot.id,
      rights === 'member' ? { status: 'member' } : { status: 'administrator', rights: { ...FULL_RIGHTS, ...rights } },
      by,
    );
  }

  /** An admin removes the bot from the group. */
  removeBot(chatId: number, by: User): void {
    this.setMember(this.chat(chatId), this.bot.id, { status: 'left' }, by);
  }

  /** An admin adds someone directly (no link, no request). */
  addMember(chatId: number, user: User, by: User): void {
    this.setMember(this.chat(chatId), user.id, { status: 'member' }, by);
  }

  /** A member (not the bot) becomes an administrator. */
  promote(chatId: number, user: User, by: User): void {
    this.setMember(this.chat(chatId), user.id, { status: 'administrator', rights: { ...FULL_RIGHTS } }, by);
  }

  /** Puts people into a group and marks them as having started the bot, without any update (bulk set-up). */
  seedMembers(chatId: number, users: User[]): void {
    const c = this.chat(chatId);
    for (const u of users) {
      c.members.set(u.id, { status: 'member' });
      this.users.get(u.id)!.started = true;
    }
  }

  /** Bans people from a group without any update: what an owner did before the bot was in the group (set-up). */
  seedBanned(chatId: number, users: User[]): void {
    const c = this.chat(chatId);
    for (const u of users) c.members.set(u.id, { status: 'kicked', until_date: 0 });
  }

  /** An admin bans someone (for good), announced like any change of a member's status. */
  ban(chatId: number, user: User, by: User): void {
    this.setMember(this.chat(chatId), user.id, { status: 'kicked', until_date: 0 }, by);
  }

  /** Marks people as having started the bot (so it may write to them), without any update and without joining anything (bulk set-up). */
  markStarted(users: User[]): void {
    for (const u of users) this.users.get(u.id)!.started = true;
  }

  /** The person leaves the group. */
  leave(user: User, chatId: number): void {
    const c = this.chat(chatId);
    if (!this.isMember(chatId, user.id)) return;
    this.setMember(c, user.id, { status: 'left' }, user);
  }

  /** The person opens an invite link. */
  joinViaLink(user: User, link: string, o: { bio?: string } = {}): 'requested' | 'joined' | 'invalid' | 'expired' | 'banned' | 'already' {
    const l = this.links.get(link);
    if (!l || l.is_revoked) return 'invalid';
    if (l.expire_date !== undefined && l.expire_date * 1000 <= this.now()) return 'expired';
    const c = this.chat(this.resolveMigrated(l.chatId));
    const st = c.members.get(user.id)?.status;
    if (st === 'kicked') return 'banned';
    if (this.isMember(c.id, user.id)) return 'already';
    if (l.creates_join_request) {
      const date = this.unix();
      c.joinRequests.set(user.id, { date, link });
      // The bot may write to the requester for 5 minutes, even if they never started it.
      this.users.get(user.id)!.dmUntil = this.now() + 5 * 60_000;
      let query: { query_id: string } | Record<string, never> = {};
      if (this.guardBot) {
        const queryId = rand(12);
        this.joinQueries.set(queryId, { chatId: c.id, userId: user.id, at: this.now(), webAppAt: null, answer: null });
        query = { query_id: queryId };
      }
      // ChatJoinRequest.bio: "Optional. Bio of the user." (Bot API), present when the person has one.
      this.push('chat_join_request', {
        chat: this.chatJson(c),
        from: user,
        user_chat_id: user.id,
        date,
        ...(o.bio ? { bio: o.bio } : {}),
        invite_link: this.linkJson(l),
        ...query,
      });
      return 'requested';
    }
    if (l.member_limit !== undefined && l.joined >= l.member_limit) return 'invalid';
    l.joined++;
    this.setMember(c, user.id, { status: 'member' }, user, { invite_link: this.linkJson(l) });
    return 'joined';
  }

  /** A join-request query as the emulator holds it (tests look at its answer). */
  joinQuery(queryId: string): Readonly<JoinQueryRec> | undefined {
    return this.joinQueries.get(queryId);
  }

  /**
   * The requester opens the Mini App the bot sent for their join request: the URL with Telegram's launch data
   * appended as `#tgWebAppData=…` (core.telegram.org/bots/webapps, "Initializing Mini Apps"), signed for
   * `token` (this bot's unless a test says otherwise) and dated `authDate` (now unless given).
   */
  openWebApp(queryId: string, o: { token?: string; authDate?: number } = {}): { url: string; initData: string } {
    const app = this.webApps.find((w) => w.queryId === queryId);
    if (!app) throw new Error(`no Mini App was opened for join query ${queryId}`);
    const u = this.users.get(app.userId)!.user;
    const fields: Record<string, string> = {
      auth_date: String(Math.floor((o.authDate ?? this.now()) / 1000)),
      user: JSON.stringify({
        id: u.id,
        first_name: u.first_name,
        ...(u.username ? { username: u.username } : {}),
        ...(u.language_code ? { language_code: u.language_code } : {}),
      }),
      chat_type: 'supergroup',
    };
    const secret = createHmac('sha256', 'WebAppData')
      .update(o.token ?? this.token)
      .digest();
    const dcs = Object.keys(fields)
      .sort()
      .map((k) => `${k}=${fields[k]}`)
      .join('\n');
    const initData = new URLSearchParams({ ...fields, hash: createHmac('sha256', secret).update(dcs).digest('hex') }).toString();
    return { url: `${app.url}#tgWebAppData=${encodeURIComponent(initData)}`, initData };
  }

  /** The open query with this id, or Telegram's refusal: unknown, already answered, or past its time. */
  private liveJoinQuery(queryId: string): JoinQueryRec {
    const q = this.joinQueries.get(queryId);
    if (!q || q.answer !== null) throw bad(QUERY_TOO_OLD);
    const deadline = q.webAppAt === null ? q.at + JOIN_QUERY_FIRST_ANSWER_MS : q.webAppAt + this.joinQueryWebAppMs;
    if (this.now() > deadline) throw bad(QUERY_TOO_OLD);
    return q;
  }

  /** Pending join requests of a chat (user ids). */
  pendingRequests(chatId: number): number[] {
    return [...this.chat(chatId).joinRequests.keys()];
  }

  /**
   * The group becomes a supergroup with a new id; members, rights, links and requests move with it. The old
   * chat says migrate_to_chat_id and the new one migrate_from_chat_id (`silent` leaves those messages out, so
   * the bot only learns it from the 400 with migrate_to_chat_id its next call gets).
   */
  migrate(chatId: number, opts: { silent?: boolean } = {}): number {
    const old = this.chat(chatId);
    if (old.type !== 'group') throw new Error('emulator: only a basic group can be migrated');
    const id = -(1_000_000_000_000 + this.nextGroupId++);
    const next: ChatRec = { id, type: 'supergroup', title: old.title, members: new Map(old.members), joinRequests: new Map(old.joinRequests) };
    this.chats.set(id, next);
    old.migratedTo = id;
    for (const l of this.links.values()) if (l.chatId === chatId) l.chatId = id;
    const creator = [...old.members.entries()].find(([, m]) => m.status === 'creator')?.[0];
    const from = creator !== undefined ? this.userOf(creator) : this.bot;
    if (!opts.silent) {
      this.push('message', this.newMessage(old, from, { migrate_to_chat_id: id }));
      this.push('message', this.newMessage(next, from, { migrate_from_chat_id: chatId }));
    }
    return id;
  }

  private resolveMigrated(chatId: number): number {
    let id = chatId;
    for (let i = 0; i < 5; i++) {
      const c = this.chats.get(id);
      if (!c?.migratedTo) break;
      id = c.migratedTo;
    }
    return id;
  }

  private linkJson(l: InviteLinkRec) {
    // Links made by someone else are shown with their tail hidden, as Telegram does.
    const link = l.creator === this.bot.id ? l.invite_link : `${l.invite_link.slice(0, 22)}...`;
    return {
      invite_link: link,
      creator: this.userOf(l.creator),
      creates_join_request: l.creates_join_request,
      is_primary: l.is_primary,
      is_revoked: l.is_revoked,
      ...(l.name !== undefined ? { name: l.name } : {}),
      ...(l.expire_date !== undefined ? { expire_date: l.expire_date } : {}),
      ...(l.member_limit !== undefined ? { member_limit: l.member_limit } : {}),
    };
  }

  /** An admin's own join-request-free link (to test people joining without the bot). */
  adminLink(chatId: number, by: User): string {
    const l: InviteLinkRec = {
      chatId,
      invite_link: `https://t.me/+${rand(12)}`,
      creator: by.id,
      creates_join_request: false,
      is_revoked: false,
      is_primary: false,
      joined: 0,
    };
    this.links.set(l.invite_link, l);
    return l.invite_link;
  }

  linksOf(chatId: number): InviteLinkRec[] {
    return [...this.links.values()].filter((l) => l.chatId === chatId);
  }

  // ------------------------------------------------------------ Stars

  /**
   * The person pays an invoice (found by its link or payload): Telegram asks the bot (pre_checkout_query)
   * and takes the Stars only if the bot says yes within 10 s, then sends successful_payment.
   */
  async payInvoice(
    user: User,
    ref: { link?: string; payload?: string },
    opts: { waitMs?: number; loseUpdate?: boolean } = {},
  ): Promise<{ outcome: 'paid'; chargeId: string } | { outcome: 'declined'; error: string } | { outcome: 'timeout' }> {
    const inv = ref.link ? this.invoices.get(ref.link) : [...this.invoices.values()].find((i) => i.payload === ref.payload);
    if (!inv) throw new Error('emulator: no such invoice');
    const id = rand(12);
    const startedAt = this.now();
    const answer = new Promise<{ ok: boolean; error_message?: string }>((resolve) => this.preCheckouts.set(id, { at: startedAt, resolve }));
    this.push('pre_checkout_query', { id, from: user, currency: inv.currency, total_amount: inv.total_amount, invoice_payload: inv.payload });
    let timer: NodeJS.Timeout | undefined;
    const a = await Promise.race([answer, new Promise<null>((r) => (timer = setTimeout(() => r(null), opts.waitMs ?? 10_000)))]);
    clearTimeout(timer);
    this.preCheckouts.delete(id);
    if (!a) return { outcome: 'timeout' };
    if (!a.ok) return { outcome: 'declined', error: a.error_message ?? '' };
    const chargeId = `stxtn_${rand(18)}`;
    this.transactions.push({ id: chargeId, amount: inv.total_amount, date: this.unix(), source: { type: 'user', user, invoice_payload: inv.payload } });
    let recurring: Record<string, unknown> = {};
    if (inv.subscriptionPeriod) {
      const expiresAt = this.unix() + inv.subscriptionPeriod;
      this.subscriptions.push({
        chargeId,
        user,
        payload: inv.payload,
        amount: inv.total_amount,
        period: inv.subscriptionPeriod,
        expiresAt,
        canceledByBot: false,
        canceledByUser: false,
      });
      recurring = { is_recurring: true, is_first_recurring: true, subscription_expiration_date: expiresAt };
    }
    // `loseUpdate`: the Stars are taken but the bot never hears of it (reconcile must find it).
    if (!opts.loseUpdate)
      this.push(
        'message',
        this.newMessage(this.chat(user.id), user, {
          successful_payment: {
            currency: inv.currency,
            total_amount: inv.total_amount,
            invoice_payload: inv.payload,
            telegram_payment_charge_id: chargeId,
            provider_payment_charge_id: '',
            ...recurring,
          },
        }),
      );
    return { outcome: 'paid', chargeId };
  }

  /**
   * Telegram charges a subscription's next period (the test decides when): a new charge with its own id,
   * `is_recurring` without `is_first_recurring`, the first invoice's payload, and the expiry one period on.
   * A subscription canceled by the bot or the user is not charged (`force` charges anyway: a renewal that
   * overtook a cancellation).
   */
  renewSubscription(
    user: User,
    subscriptionChargeId: string,
    opts: { force?: boolean } = {},
  ): { outcome: 'charged'; chargeId: string; update: Update | null } | { outcome: 'canceled' } {
    const s = this.subscriptions.find((x) => x.chargeId === subscriptionChargeId && x.user.id === user.id);
    if (!s) throw new Error('emulator: no such subscription');
    if ((s.canceledByBot || s.canceledByUser) && !opts.force) return { outcome: 'canceled' };
    const chargeId = `stxtn_${rand(18)}`;
    s.expiresAt += s.period;
    this.transactions.push({ id: chargeId, amount: s.amount, date: this.unix(), source: { type: 'user', user, invoice_payload: s.payload } });
    const update = this.push(
      'message',
      this.newMessage(this.chat(user.id), user, {
        successful_payment: {
          currency: 'XTR',
          total_amount: s.amount,
          invoice_payload: s.payload,
          telegram_payment_charge_id: chargeId,
          provider_payment_charge_id: '',
          is_recurring: true,
          subscription_expiration_date: s.expiresAt,
        },
      }),
    );
    return { outcome: 'charged', chargeId, update };
  }

  /** The user changes their subscription in Telegram: the bot gets the `subscription` update (if it asked for it). */
  userSubscriptionChange(user: User, subscriptionChargeId: string, state: 'canceled' | 'active' | 'failed'): Update | null {
    const s = this.subscriptions.find((x) => x.chargeId === subscriptionChargeId && x.user.id === user.id);
    if (!s) throw new Error('emulator: no such subscription');
    if (state !== 'failed') s.canceledByUser = state === 'canceled';
    return this.push('subscription', { user, invoice_payload: s.payload, state });
  }

  invoiceLinks(): string[] {
    return [...this.invoices.values()].filter((i) => i.link).map((i) => i.link!);
  }

  // ------------------------------------------------------------ methods

  private target(p: Params, opts: { group?: boolean } = {}): ChatRec {
    const raw = p.chat_id;
    if (raw === undefined || raw === null || raw === '') throw bad('chat_id is empty');
    const id = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(id)) throw bad('chat not found');
    const c = this.chats.get(id);
    if (!c) throw bad('chat not found');
    if (c.migratedTo) throw bad('group chat was upgraded to a supergroup chat', { migrate_to_chat_id: c.migratedTo });
    if (opts.group && c.type === 'private') throw bad('method is available for supergroup and channel chats only');
    return c;
  }

  /** The bot must be in the group; for admin methods, an administrator with `right`. */
  private botIn(c: ChatRec, right?: keyof AdminRights, what = 'restrict/unrestrict chat member'): void {
    if (c.type === 'private') return;
    const me = c.members.get(this.bot.id);
    if (!me || me.status === 'left') throw forbidden(`bot is not a member of the ${c.type === 'supergroup' ? 'supergroup' : 'group'} chat`);
    if (me.status === 'kicked') throw forbidden(`bot was kicked from the ${c.type === 'supergroup' ? 'supergroup' : 'group'} chat`);
    if (!right) return;
    if (me.status !== 'administrator') throw bad('CHAT_ADMIN_REQUIRED');
    if (!me.rights?.[right]) throw bad(`not enough rights to ${what}`);
  }

  private canMessage(c: ChatRec): void {
    if (c.type !== 'private') {
      this.botIn(c);
      return;
    }
    const u = this.users.get(c.id)!;
    if (u.blocked) throw forbidden('bot was blocked by the user');
    if (!u.started && u.dmUntil < this.now()) throw forbidden("bot can't initiate conversation with a user");
  }

  private keyboard(p: Params): SentMessage['reply_markup'] | undefined {
    const rm = json(p, 'reply_markup');
    if (rm === undefined) return undefined;
    if (typeof rm !== 'object' || rm === null) throw bad("can't parse reply keyboard markup JSON object");
    const kb = (rm as { inline_keyboard?: unknown }).inline_keyboard;
    if (!Array.isArray(kb) || kb.some((row) => !Array.isArray(row))) throw bad('field "inline_keyboard" must be an Array of Arrays');
    for (const row of kb as unknown[][]) {
      for (const b of row as Array<Record<string, unknown>>) {
        if (typeof b?.text !== 'string' || b.text.length === 0)
          throw bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
        const kinds = ['url', 'callback_data', 'web_app', 'login_url', 'switch_inline_query', 'pay'].filter((k) => b[k] !== undefined);
        if (kinds.length !== 1) throw bad("can't parse inline keyboard button: exactly one of the optional fields must be used");
        if (
          b.callback_data !== undefined &&
          (typeof b.callback_data !== 'string' || Buffer.byteLength(b.callback_data) < 1 || Buffer.byteLength(b.callback_data) > 64)
        )
          throw bad('BUTTON_DATA_INVALID');
        if (b.url !== undefined) {
          let ok: boolean;
          try {
            const u = new URL(String(b.url));
            ok = ['http:', 'https:', 'tg:'].includes(u.protocol) && (u.protocol === 'tg:' || u.hostname.includes('.') || u.hostname === 'localhost');
          } catch {
            ok = false;
          }
          if (!ok) throw bad(`inline keyboard button URL '${String(b.url)}' is invalid: Wrong HTTP URL`);
        }
      }
    }
    return rm as SentMessage['reply_markup'];
  }

  private record(c: ChatRec, m: Omit<SentMessage, 'message_id' | 'chat_id' | 'date'>) {
    const msg: SentMessage = { message_id: this.nextMessageId++, chat_id: c.id, date: this.unix(), ...m };
    this.sent.push(msg);
    this.onSent?.(msg);
    const { photo, ...rest } = msg;
    return {
      ...rest,
      from: this.bot,
      chat: this.chatJson(c),
      ...(photo ? { photo: [{ file_id: rand(), file_unique_id: rand(8), width: 360, height: 360, file_size: photo.length }] } : {}),
    };
  }

  private invoiceFields(p: Params): InvoiceRec {
    const title = str(p, 'title', true);
    const description = str(p, 'description', true);
    const payload = str(p, 'payload', true);
    const currency = str(p, 'currency', true);
    if (utf16len(title) > 32) throw bad('INVOICE_TITLE_INVALID');
    if (utf16len(description) > 255) throw bad('INVOICE_DESCRIPTION_INVALID');
    if (Buffer.byteLength(payload) > 128) throw bad('INVOICE_PAYLOAD_INVALID');
    const prices = json(p, 'prices');
    if (!Array.isArray(prices) || prices.length === 0) throw bad('prices must be non-empty');
    if (currency === 'XTR') {
      if (str(p, 'provider_token')) throw bad('PROVIDER_TOKEN_INVALID');
      if (prices.length !== 1) throw bad('CURRENCY_TOTAL_AMOUNT_INVALID');
    } else if (!str(p, 'provider_token')) throw bad('PAYMENT_PROVIDER_INVALID');
    let total = 0;
    for (const pr of prices as Array<Record<string, unknown>>) {
      if (typeof pr?.label !== 'string' || !Number.isSafeInteger(pr.amount) || (pr.amount as number) <= 0) throw bad('CURRENCY_TOTAL_AMOUNT_INVALID');
      total += pr.amount as number;
    }
    return { title, description, payload, currency, total_amount: total };
  }

  private buildMethods(): Record<string, Handler> {
    return {
      getMe: () => ({ ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),
      getUpdates: (p, ctx) => this.getUpdates(p, ctx),
      setWebhook: (p) => {
        const url = str(p, 'url') ?? '';
        if (url === '') {
          this.webhook = null;
          return true;
        }
        let u: URL;
        try {
          u = new URL(url);
        } catch {
          throw bad('bad webhook: invalid URL');
        }
        const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost';
        if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw bad('bad webhook: An HTTPS URL must be provided for webhook');
        const secret = str(p, 'secret_token');
        if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw bad('secret token contains unallowed characters');
        const allowed = json(p, 'allowed_updates');
        if (allowed !== undefined && (!Array.isArray(allowed) || allowed.some((t) => typeof t !== 'string')))
          throw bad("can't parse allowed_updates JSON object");
        if (bool(p, 'drop_pending_updates')) this.queue = [];
        this.poller?.resolve(new ApiError(409, 'Conflict: terminated by setWebhook request'));
        this.poller = null;
        this.webhook = { url, ...(secret ? { secret } : {}), allowed: Array.isArray(allowed) && allowed.length > 0 ? (allowed as string[]) : null };
        void this.webhookLoop();
        return true;
      },
      deleteWebhook: (p) => {
        this.webhook = null;
        if (bool(p, 'drop_pending_updates')) this.queue = [];
        return true;
      },
      getWebhookInfo: () => ({
        url: this.webhook?.url ?? '',
        has_custom_certificate: false,
        pending_update_count: this.queue.length,
        ...(this.webhook?.allowed ? { allowed_updates: this.webhook.allowed } : {}),
      }),

      sendMessage: (p) => {
        const c = this.target(p);
        const text = str(p, 'text');
        if (!text || !text.trim()) throw bad('message text is empty');
        if (utf16len(text) > 4096) throw bad('message is too long');
        const reply_markup = this.keyboard(p);
        this.canMessage(c);
        return this.record(c, { text, ...(reply_markup ? { reply_markup } : {}) });
      },
      sendPhoto: (p) => {
        const c = this.target(p);
        const photo = p.photo;
        let bytes: Buffer | undefined;
        if (isFile(photo)) {
          bytes = photo.data;
          const png = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
          const jpg = bytes[0] === 0xff && bytes[1] === 0xd8;
          if (!png && !jpg) throw bad('IMAGE_PROCESS_FAILED');
        } else if (typeof photo !== 'string' || !photo) throw bad('there is no photo in the request');
        const caption = str(p, 'caption');
        if (caption && utf16len(caption) > 1024) throw bad('message caption is too long');
        const reply_markup = this.keyboard(p);
        this.canMessage(c);
        return this.record(c, { ...(caption ? { caption } : {}), ...(bytes ? { photo: bytes } : {}), ...(reply_markup ? { reply_markup } : {}) });
      },
      sendInvoice: (p) => {
        const c = this.target(p);
        // sendInvoice has no subscription_period: a subscription is sold through createInvoiceLink only.
        if (p.subscription_period !== undefined) throw bad('subscription_period is supported only by createInvoiceLink');
        const inv = this.invoiceFields(p);
        this.canMessage(c);
        const msg = this.record(c, {
          invoice: { title: inv.title, description: inv.description, payload: inv.payload, currency: inv.currency, total_amount: inv.total_amount },
        });
        this.invoices.set(`msg:${msg.message_id}`, { ...inv, chatId: c.id });
        return msg;
      },
      createInvoiceLink: (p) => {
        const inv = this.invoiceFields(p);
        // subscription_period: "Currently, it must always be 2592000 (30 days) if specified"; XTR only.
        const period = int(p, 'subscription_period');
        if (period !== undefined) {
          if (inv.currency !== 'XTR') throw bad('SUBSCRIPTION_PERIOD_INVALID');
          if (period !== 2_592_000) throw bad('SUBSCRIPTION_PERIOD_INVALID');
          inv.subscriptionPeriod = period;
        }
        const link = `https://t.me/$${rand(18)}`;
        this.invoices.set(link, { ...inv, link });
        return link;
      },
      answerCallbackQuery: (p) => {
        const id = str(p, 'callback_query_id', true);
        const q = this.callbackQueries.get(id);
        if (!q || q.answered || this.now() - q.at > 15 * 60_000) throw bad('query is too old and response timeout expired or query ID is invalid');
        q.answered = true;
        return true;
      },
      answerPreCheckoutQuery: (p) => {
        const id = str(p, 'pre_checkout_query_id', true);
        const ok = bool(p, 'ok');
        if (ok === undefined) throw bad('ok is empty');
        const q = this.preCheckouts.get(id);
        if (!q || this.now() - q.at > 10_000) throw bad('query is too old and response timeout expired or query ID is invalid');
        const error_message = str(p, 'error_message');
        if (!ok && !error_message) throw bad('ERROR_MESSAGE_EMPTY');
        this.preCheckouts.delete(id);
        q.resolve({ ok, ...(error_message ? { error_message } : {}) });
        return true;
      },
      refundStarPayment: (p) => {
        const userId = int(p, 'user_id', true);
        const chargeId = str(p, 'telegram_payment_charge_id', true);
        const t = this.transactions.find((x) => x.id === chargeId && x.source);
        if (!t) throw bad('CHARGE_ID_INVALID');
        if (t.source!.user.id !== userId) throw bad('USER_ID_INVALID');
        if (this.transactions.some((x) => x.id === chargeId && x.receiver)) throw bad('CHARGE_ALREADY_REFUNDED');
        this.transactions.push({
          id: chargeId,
          amount: t.amount,
          date: this.unix(),
          receiver: { type: 'user', user: t.source!.user, invoice_payload: t.source!.invoice_payload },
        });
        const u = t.source!.user;
        this.push(
          'message',
          this.newMessage(this.chat(u.id), u, {
            refunded_payment: { currency: 'XTR', total_amount: t.amount, invoice_payload: t.source!.invoice_payload, telegram_payment_charge_id: chargeId },
          }),
        );
        return true;
      },
      editUserStarSubscription: (p) => {
        const userId = int(p, 'user_id', true);
        const chargeId = str(p, 'telegram_payment_charge_id', true);
        const canceled = bool(p, 'is_canceled');
        if (canceled === undefined) throw bad('is_canceled is empty');
        const s = this.subscriptions.find((x) => x.chargeId === chargeId);
        if (!s) throw bad('CHARGE_ID_INVALID');
        if (s.user.id !== userId) throw bad('USER_ID_INVALID');
        if (s.expiresAt <= this.unix()) throw bad('SUBSCRIPTION_EXPIRED');
        s.canceledByBot = canceled;
        return true;
      },
      getStarTransactions: (p) => {
        const offset = int(p, 'offset') ?? 0;
        const limit = int(p, 'limit') ?? 100;
        if (limit < 1 || limit > 100) throw bad('limit must be between 1 and 100');
        return { transactions: this.transactions.slice(offset, offset + limit) };
      },

      getChat: (p) => this.chatJson(this.target(p)),
      leaveChat: (p) => {
        const c = this.target(p, { group: true });
        this.botIn(c);
        this.setMember(c, this.bot.id, { status: 'left' }, this.bot);
        return true;
      },
      getChatMember: (p) => {
        const c = this.target(p);
        const userId = int(p, 'user_id', true);
        this.botIn(c);
        return this.memberJson(c, userId);
      },
      createChatInviteLink: (p) => {
        const c = this.target(p, { group: true });
        const name = str(p, 'name');
        const expire = int(p, 'expire_date');
        const limit = int(p, 'member_limit');
        const cjr = bool(p, 'creates_join_request') ?? false;
        this.botIn(c, 'can_invite_users', 'manage chat invite links');
        if (name !== undefined && utf16len(name) > 32) throw bad('invite link name is too long');
        if (cjr && limit !== undefined) throw bad("member limit can't be specified for links requiring administrator approval");
        if (limit !== undefined && (limit < 1 || limit > 99_999)) throw bad('member limit is invalid');
        if (expire !== undefined && expire !== 0 && expire * 1000 <= this.now()) throw bad('EXPIRE_DATE_INVALID');
        const l: InviteLinkRec = {
          chatId: c.id,
          invite_link: `https://t.me/+${rand(12)}`,
          creator: this.bot.id,
          creates_join_request: cjr,
          is_revoked: false,
          is_primary: false,
          joined: 0,
          ...(name !== undefined ? { name } : {}),
          ...(expire ? { expire_date: expire } : {}),
          ...(limit !== undefined ? { member_limit: limit } : {}),
        };
        this.links.set(l.invite_link, l);
        return this.linkJson(l);
      },
      revokeChatInviteLink: (p) => {
        const c = this.target(p, { group: true });
        const link = str(p, 'invite_link', true);
        this.botIn(c, 'can_invite_users', 'manage chat invite links');
        const l = this.links.get(link);
        if (!l || l.chatId !== c.id) throw bad('INVITE_HASH_EXPIRED');
        l.is_revoked = true;
        return this.linkJson(l);
      },
      approveChatJoinRequest: (p) => {
        const c = this.target(p, { group: true });
        const userId = int(p, 'user_id', true);
        this.botIn(c, 'can_invite_users', 'manage chat invite links');
        if (this.isMember(c.id, userId)) throw bad('USER_ALREADY_PARTICIPANT');
        const r = c.joinRequests.get(userId);
        if (!r) throw bad('HIDE_REQUESTER_MISSING');
        c.joinRequests.delete(userId);
        const l = r.link ? this.links.get(r.link) : undefined;
        if (l) l.joined++;
        this.setMember(c, userId, { status: 'member' }, this.bot, { ...(l ? { invite_link: this.linkJson(l) } : {}), via_join_request: true });
        return true;
      },
      sendChatJoinRequestWebApp: (p) => {
        const queryId = str(p, 'chat_join_request_query_id', true);
        const url = str(p, 'web_app_url', true);
        let u: URL;
        try {
          u = new URL(url);
        } catch {
          throw bad('WEBAPP_URL_INVALID');
        }
        const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost';
        if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw bad('WEBAPP_URL_INVALID');
        const q = this.liveJoinQuery(queryId);
        this.botIn(this.chat(this.resolveMigrated(q.chatId)), 'can_invite_users', 'manage chat invite links');
        if (q.webAppAt !== null) throw bad(QUERY_TOO_OLD);
        q.webAppAt = this.now();
        this.webApps.push({ queryId, url, userId: q.userId, chatId: q.chatId });
        return true;
      },
      answerChatJoinRequestQuery: (p) => {
        const queryId = str(p, 'chat_join_request_query_id', true);
        const result = str(p, 'result', true);
        if (result !== 'approve' && result !== 'decline' && result !== 'queue') throw bad('result must be one of "approve", "decline" or "queue"');
        const q = this.liveJoinQuery(queryId);
        const c = this.chat(this.resolveMigrated(q.chatId));
        this.botIn(c, 'can_invite_users', 'manage chat invite links');
        q.answer = result;
        if (result === 'queue') return true;
        const r = c.joinRequests.get(q.userId);
        c.joinRequests.delete(q.userId);
        if (result === 'approve' && !this.isMember(c.id, q.userId)) {
          const l = r?.link ? this.links.get(r.link) : undefined;
          if (l) l.joined++;
          this.setMember(c, q.userId, { status: 'member' }, this.bot, { ...(l ? { invite_link: this.linkJson(l) } : {}), via_join_request: true });
        }
        return true;
      },
      declineChatJoinRequest: (p) => {
        const c = this.target(p, { group: true });
        const userId = int(p, 'user_id', true);
        this.botIn(c, 'can_invite_users', 'manage chat invite links');
        if (!c.joinRequests.delete(userId)) throw bad('HIDE_REQUESTER_MISSING');
        return true;
      },
      banChatMember: (p) => {
        const c = this.target(p, { group: true });
        const userId = int(p, 'user_id', true);
        let until = int(p, 'until_date') ?? 0;
        this.botIn(c, 'can_restrict_members');
        this.userOf(userId);
        if (userId === this.bot.id) throw bad("can't restrict self");
        const st = c.members.get(userId)?.status;
        if (st === 'creator') throw bad("can't remove chat owner");
        if (st === 'administrator') throw bad('user is an administrator of the chat');
        // Less than 30 s or more than 366 days away: banned forever.
        if (until !== 0 && (until * 1000 - this.now() < 30_000 || until * 1000 - this.now() > 366 * 86_400_000)) until = 0;
        this.setMember(c, userId, { status: 'kicked', until_date: until }, this.bot);
        return true;
      },
      unbanChatMember: (p) => {
        const c = this.target(p, { group: true });
        const userId = int(p, 'user_id', true);
        const onlyIfBanned = bool(p, 'only_if_banned') ?? false;
        this.botIn(c, 'can_restrict_members');
        this.userOf(userId);
        const st = c.members.get(userId)?.status;
        if (st === 'creator') throw bad("can't remove chat owner");
        if (st === 'administrator') throw bad('user is an administrator of the chat');
        if (st === 'kicked' || (!onlyIfBanned && (st === 'member' || st === 'restricted'))) this.setMember(c, userId, { status: 'left' }, this.bot);
        return true;
      },
    };
  }
}
