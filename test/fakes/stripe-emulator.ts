// A strict loopback emulator of the slice of Stripe's v1 API that Gatekeeper uses: Checkout Sessions
// (create, retrieve, list, expire) in payment and subscription mode, PaymentIntents (retrieve, expand latest_charge),
// Charges (retrieve), Refunds (create, retrieve, list), Subscriptions (retrieve, update cancel_at_period_end, cancel
// at once with DELETE), Invoices (retrieve, void) and
// Customer Portal sessions (create), with webhook events signed exactly as Stripe signs them.
//
// Subscriptions: a session in `mode=subscription` needs a price_data with `recurring[interval]` (and a
// `mode=payment` session refuses one); when paid it makes a customer, an active subscription (metadata from
// `subscription_data[metadata]`, calendar periods by its interval) and its first invoice (billing_reason
// subscription_create). `cycle(subId)` is Stripe's billing run at the period's end (only once the clock is there):
// a paid or failed subscription_cycle invoice, or — after cancel_at_period_end — the subscription's end with
// customer.subscription.deleted. `payInvoice(id)` is the member paying a failed invoice on its hosted page.
//
// Strict like Stripe: `Authorization: Bearer <the one secret key>` (401 otherwise), form-encoded bodies,
// unknown and missing parameters rejected with Stripe's error object ({"error":{type,code,message,param}}),
// Idempotency-Key replays (same parameters → the stored answer with `Idempotent-Replayed: true`; other
// parameters → 400 idempotency_error; keys kept 24 hours), expires_at only 30 min – 24 h ahead.
//
// The test drives the outside world: `pay(sessionId)` completes a session the way a customer would,
// `deliver(event)` posts a signed event to the webhook URL — once, twice, concurrently, out of order,
// late, or not at all — and `mode` makes the API unreachable, slow, 500, 429, or lose its answers after
// acting. Its clock is the test's (fake) clock. It does not import Gatekeeper code: the signature is
// computed here independently, and tests also check it with the official SDK.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type EmulatorMode = 'normal' | 'unreachable' | 'hang' | 'error500' | 'rate_limited' | 'lose_response';

export interface StripeEmulatorOptions {
  secretKey: string;
  webhookSecret: string;
  /** Milliseconds since the epoch: pass the test's fake clock. */
  now: () => number;
  /** Where events are delivered. */
  webhookUrl?: string;
  /** `opaque` hands out Checkout URLs that do not contain the session id. */
  urlStyle?: 'with-id' | 'opaque';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export interface EmuSession extends Obj {
  id: string;
  object: 'checkout.session';
  url: string | null;
  mode: string;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'paid' | 'unpaid' | 'no_payment_required';
  payment_intent: string | null;
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: { [k: string]: string };
  success_url: string;
  cancel_url: string | null;
  created: number;
  expires_at: number;
  livemode: boolean;
  customer_details: Obj | null;
  subscription: string | null;
  invoice: string | null;
  customer: string | null;
}

export type Interval = 'day' | 'week' | 'month' | 'year';

export interface EmuSubscription extends Obj {
  id: string;
  object: 'subscription';
  status: 'active' | 'past_due' | 'canceled';
  cancel_at_period_end: boolean;
  canceled_at: number | null;
  ended_at: number | null;
  customer: string;
  current_period_start: number;
  current_period_end: number;
  latest_invoice: string | null;
  metadata: { [k: string]: string };
  items: Obj;
  currency: string;
  created: number;
  livemode: boolean;
}

export interface EmuInvoice extends Obj {
  id: string;
  object: 'invoice';
  billing_reason: 'subscription_create' | 'subscription_cycle';
  subscription: string;
  subscription_details: { metadata: { [k: string]: string } };
  customer: string;
  amount_due: number;
  amount_paid: number;
  amount_remaining: number;
  attempt_count: number;
  currency: string;
  status: 'open' | 'paid' | 'void';
  hosted_invoice_url: string;
  payment_intent: string | null;
  charge: string | null;
  period_start: number;
  period_end: number;
  lines: { object: 'list'; data: Obj[]; has_more: false; url: string };
  status_transitions: { finalized_at: number; paid_at: number | null };
  created: number;
  livemode: boolean;
}

export interface EmuCharge extends Obj {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  currency: string;
  paid: boolean;
  refunded: boolean;
  status: string;
  payment_intent: string;
  /** The invoice the charge paid (a subscription's charge), else null; such a charge has no metadata of ours. */
  invoice: string | null;
  metadata: { [k: string]: string };
  created: number;
  livemode: boolean;
}

export interface EmuPaymentIntent extends Obj {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: string;
  latest_charge: string | null;
  /** The invoice the PaymentIntent pays (a subscription's), else null. */
  invoice: string | null;
  metadata: { [k: string]: string };
  created: number;
  livemode: boolean;
}

export interface EmuRefund extends Obj {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed' | 'canceled' | 'requires_action';
  payment_intent: string;
  charge: string;
  metadata: { [k: string]: string };
  reason: string | null;
  failure_reason: string | null;
  created: number;
}

export interface EmuEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  /** On *.updated events: the fields that changed, with their values before. */
  data: { object: Obj; previous_attributes?: Obj };
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  rawBody: string;
  params: Obj;
  status: number;
}

export interface Delivery {
  status: number;
  body: string;
}

const API_VERSION = '2024-06-20';
const IDEMPOTENCY_TTL_S = 24 * 3600;
const CURRENCIES = new Set([
  'usd',
  'eur',
  'gbp',
  'jpy',
  'cny',
  'hkd',
  'sgd',
  'aud',
  'cad',
  'chf',
  'krw',
  'vnd',
  'clp',
  'kwd',
  'bhd',
  'jod',
  'omr',
  'tnd',
  'twd',
  'inr',
  'brl',
  'mxn',
  'sek',
  'nok',
  'dkk',
  'pln',
  'try',
  'aed',
  'php',
  'idr',
  'myr',
  'thb',
  'nzd',
  'rub',
  'isk',
  'huf',
]);
const THREE_DECIMAL = new Set(['kwd', 'bhd', 'jod', 'omr', 'tnd']);
const MINIMUM: Record<string, number> = { usd: 50, eur: 50, gbp: 30, jpy: 50, cny: 400, hkd: 400, sgd: 50 };

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function rand(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[bytes[i]! % ALNUM.length];
  return s;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: { type: string; code?: string; message: string; param?: string },
    /** Stripe stores an idempotent result only once the request started executing (not for validation failures). */
    readonly saved = false,
  ) {
    super(error.message);
  }
}

const invalid = (message: string, param?: string, code = 'parameter_invalid_string') =>
  new ApiError(400, { type: 'invalid_request_error', code, message, param });
const missing = (param: string) =>
  new ApiError(400, { type: 'invalid_request_error', code: 'parameter_missing', message: `Missing required param: ${param}.`, param });
const unknownParam = (param: string) =>
  new ApiError(400, { type: 'invalid_request_error', code: 'parameter_unknown', message: `Received unknown parameter: ${param}`, param });
const noSuch = (kind: string, id: string, param: string) =>
  new ApiError(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, param });

// ------------------------------------------------------------------ form decoding (Stripe's bracket syntax)

/** `a[b][0][c]=1&e[]=x` → `{a:{b:[{c:'1'}]}, e:['x']}`. Throws on malformed keys. */
export function decodeForm(text: string): Obj {
  const root: Obj = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) throw invalid(`Invalid parameter name: ${key}`, key);
    const path = [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
    let node: Obj | Json[] = root;
    for (let i = 0; i < path.length; i++) {
      const last = i === path.length - 1;
      let seg: string | number = path[i]!;
      if (Array.isArray(node)) seg = seg === '' ? node.length : Number(seg);
      else if (seg === '') throw invalid(`Invalid parameter name: ${key}`, key);
      const next = path[i + 1];
      const container = (): Obj | Json[] => (next === '' || (next !== undefined && /^\d+$/.test(next)) ? [] : {});
      const holder = node as Record<string | number, Json>;
      if (last) {
        holder[seg] = value;
      } else {
        if (holder[seg] === undefined) holder[seg] = container();
        const child: Json = holder[seg]!;
        if (typeof child !== 'object' || child === null) throw invalid(`Invalid parameter: ${key} mixes a value and a hash`, key);
        node = child;
      }
    }
  }
  return root;
}

const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: Json | undefined, param: string): Obj | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`Invalid hash`, param, 'parameter_invalid_hash');
  return v;
};
const arr = (v: Json | undefined, param: string): Json[] | undefined => {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw invalid(`Invalid array`, param, 'parameter_invalid_array');
  return v;
};
function integer(v: Json | undefined, param: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^-?\d{1,15}$/.test(v)) throw invalid(`Invalid integer: ${String(v)}`, param, 'parameter_invalid_integer');
  return Number(v);
}
function only(o: Obj, allowed: string[], prefix = ''): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw unknownParam(prefix ? `${prefix}[${k}]` : k);
}
function metadataParam(v: Json | undefined, param: string): { [k: string]: string } {
  const m = obj(v, param) ?? {};
  const keys = Object.keys(m);
  if (keys.length > 50) throw invalid('Metadata can have at most 50 keys', param);
  const out: { [k: string]: string } = {};
  for (const k of keys) {
    const val = m[k];
    if (typeof val !== 'string') throw invalid(`Invalid value for metadata key ${k}`, `${param}[${k}]`);
    if (k.length > 40) throw invalid('Metadata keys can be at most 40 characters', `${param}[${k}]`);
    if (val.length > 500) throw invalid('Metadata values can be at most 500 characters', `${param}[${k}]`);
    if (val !== '') out[k] = val;
  }
  return out;
}
function urlParam(v: Json | undefined, param: string): string | undefined {
  const s = str(v);
  if (v !== undefined && s === undefined) throw invalid('Invalid URL', param);
  if (s === undefined) return undefined;
  try {
    const u = new URL(s);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
  } catch {
    throw invalid(`Not a valid URL`, param, 'url_invalid');
  }
  return s;
}
function expandParam(params: Obj, allowed: string[]): string[] {
  const e = arr(params.expand, 'expand') ?? [];
  for (const x of e) if (typeof x !== 'string' || !allowed.includes(x)) throw invalid(`This property cannot be expanded (${String(x)}).`, 'expand');
  return e as string[];
}

function canonical(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k]!)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const clone = <T>(v: T): T => structuredClone(v);

// ------------------------------------------------------------------ the emulator

export class StripeEmulator {
  mode: EmulatorMode = 'normal';
  /** Status of the next refunds the API creates. */
  refundStatus: EmuRefund['status'] = 'succeeded';
  webhookUrl: string | undefined;
  /** Called as each authenticated request arrives, before Stripe acts on it: lets a test change the world mid-call. */
  onRequest: ((method: string, path: string) => void) | undefined;
  readonly requests: RecordedRequest[] = [];
  readonly sessions = new Map<string, EmuSession>();
  readonly paymentIntents = new Map<string, EmuPaymentIntent>();
  readonly charges = new Map<string, EmuCharge>();
  readonly refunds = new Map<string, EmuRefund>();
  readonly events: EmuEvent[] = [];
  readonly subscriptions = new Map<string, EmuSubscription>();
  readonly invoices = new Map<string, EmuInvoice>();
  readonly customers = new Set<string>();
  /** Customer Portal sessions made, newest last (the customer and return URL asked for). */
  readonly portalSessions: Array<{ id: string; customer: string; return_url: string | null; url: string }> = [];
  /** False: the dashboard's Customer Portal settings were never saved, so portal sessions are refused (as Stripe does). */
  portalConfigured = true;
  /** What a subscription-mode session sells: its recurring price and subscription_data[metadata]. */
  private readonly recurring = new Map<
    string,
    { interval: Interval; intervalCount: number; unitAmount: number; name: string; metadata: { [k: string]: string } }
  >();
  /** payment_intent_data[metadata] per session, copied onto the PaymentIntent and charge when paid. */
  private readonly piMetadata = new Map<string, { [k: string]: string }>();
  private readonly idempotency = new Map<string, { fingerprint: string; status: number; body: string; at: number }>();
  private readonly livemode: boolean;
  private seq = 0;

  private constructor(
    private readonly opts: StripeEmulatorOptions,
    private readonly server: Server,
    readonly port: number,
  ) {
    this.webhookUrl = opts.webhookUrl;
    this.livemode = /^(sk|rk)_live_/.test(opts.secretKey);
  }

  static async start(opts: StripeEmulatorOptions): Promise<StripeEmulator> {
    // eslint-disable-next-line prefer-const -- the server's handler needs it before it is made
    let emulator: StripeEmulator | undefined;
    const server = createServer((req, res) => {
      void emulator!.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    emulator = new StripeEmulator(opts, server, (server.address() as AddressInfo).port);
    return emulator;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private nowS(): number {
    return Math.floor(this.opts.now() / 1000);
  }

  // ---------------------------------------------------------------- HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, headers, rawBody, params: {}, status: 0 };
    this.requests.push(record);

    if (this.mode === 'unreachable') {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (this.mode === 'hang') {
      record.status = -1;
      return; // never answers; close() cuts the connection
    }
    const send = (status: number, body: string, extra: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': `req_${rand(14)}`,
        'stripe-version': headers['stripe-version'] ?? API_VERSION,
        ...extra,
      });
      res.end(body);
    };
    const sendError = (e: ApiError) =>
      send(
        e.status,
        JSON.stringify(
          { error: { ...e.error, doc_url: e.error.code ? `https://stripe.com/docs/error-codes/${e.error.code.replace(/_/g, '-')}` : undefined } },
          null,
          2,
        ),
      );
    if (this.mode === 'error500') return sendError(new ApiError(500, { type: 'api_error', message: 'An unknown error occurred' }));
    if (this.mode === 'rate_limited')
      return sendError(
        new ApiError(429, {
          type: 'invalid_request_error',
          code: 'rate_limit',
          message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
        }),
      );

    const auth = headers.authorization;
    if (!auth)
      return sendError(
        new ApiError(401, {
          type: 'invalid_request_error',
          message:
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        }),
      );
    if (auth !== `Bearer ${this.opts.secretKey}`) {
      const given = auth.replace(/^Bearer\s+/i, '');
      return sendError(
        new ApiError(401, {
          type: 'invalid_request_error',
          message: `Invalid API Key provided: ${given.slice(0, 8)}${'*'.repeat(Math.max(0, given.length - 12))}${given.slice(-4)}`,
        }),
      );
    }

    const method = req.method ?? 'GET';
    let params: Obj;
    try {
      if (method === 'POST') {
        const ct = headers['content-type'] ?? '';
        if (rawBody !== '' && !ct.startsWith('application/x-www-form-urlencoded'))
          throw invalid(
            `Invalid request: the body must be application/x-www-form-urlencoded, not ${ct || 'unspecified'}`,
            undefined,
            'parameter_invalid_string',
          );
        if (url.search) throw invalid('POST parameters go in the body, not the query string');
        params = decodeForm(rawBody);
      } else {
        if (rawBody !== '') throw invalid('A GET request takes no body');
        params = decodeForm(url.search.slice(1));
      }
    } catch (e) {
      if (e instanceof ApiError) return sendError(e);
      throw e;
    }
    record.params = params;

    const key = method === 'POST' ? headers['idempotency-key'] : undefined;
    const fingerprint = `${method} ${url.pathname} ${canonical(params)}`;
    if (key !== undefined) {
      if (key.length === 0 || key.length > 255) return sendError(invalid('Idempotency-Key must be 1 to 255 characters', undefined, 'idempotency_key_in_use'));
      const stored = this.idempotency.get(key);
      if (stored && this.nowS() - stored.at < IDEMPOTENCY_TTL_S) {
        if (stored.fingerprint !== fingerprint) {
          return sendError(
            new ApiError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          );
        }
        if (this.mode === 'lose_response') {
          record.status = -1;
          req.socket.destroy();
          return;
        }
        return send(stored.status, stored.body, { 'idempotent-replayed': 'true', 'original-request': 'req_emulated' });
      }
    }

    this.onRequest?.(method, url.pathname);
    let status = 200;
    let body: string;
    let save = true;
    try {
      body = JSON.stringify(this.route(method, url.pathname, params, key ?? null), null, 2);
    } catch (e) {
      if (!(e instanceof ApiError)) {
        status = 500;
        body = JSON.stringify({ error: { type: 'api_error', message: `emulator bug: ${e instanceof Error ? e.message : String(e)}` } });
        save = false;
      } else {
        status = e.status;
        body = JSON.stringify({ error: e.error }, null, 2);
        save = e.saved;
      }
    }
    if (key !== undefined && method === 'POST' && save) this.idempotency.set(key, { fingerprint, status, body, at: this.nowS() });
    if (this.mode === 'lose_response') {
      // It acted, but the answer never arrives.
      record.status = -1;
      req.socket.destroy();
      return;
    }
    send(status, body);
  }

  private route(method: string, path: string, params: Obj, idempotencyKey: string | null): Json {
    let m: RegExpExecArray | null;
    if (path === '/v1/checkout/sessions' && method === 'POST') return this.createSession(params);
    if (path === '/v1/checkout/sessions' && method === 'GET') return this.listSessions(params);
    if ((m = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path)) && method === 'GET') {
      only(params, ['expand']);
      const expand = expandParam(params, ['payment_intent']);
      const s = clone(this.session(m[1]!, 'session'));
      if (expand.includes('payment_intent') && s.payment_intent) return { ...s, payment_intent: clone(this.paymentIntents.get(s.payment_intent)!) };
      return s;
    }
    if ((m = /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/.exec(path)) && method === 'POST') {
      only(params, ['expand']);
      const s = this.session(m[1]!, 'session');
      if (s.status !== 'open')
        throw new ApiError(
          400,
          { type: 'invalid_request_error', message: `Only Checkout Sessions with a status in ["open"] can be expired. This session has status "${s.status}".` },
          true,
        );
      this.expireSession(s);
      return clone(s);
    }
    if ((m = /^\/v1\/payment_intents\/([^/]+)$/.exec(path)) && method === 'GET') {
      only(params, ['expand', 'client_secret']);
      const expand = expandParam(params, ['latest_charge']);
      const pi = this.paymentIntents.get(m[1]!);
      if (!pi) throw noSuch('payment_intent', m[1]!, 'intent');
      const out: Obj = clone(pi);
      if (expand.includes('latest_charge') && pi.latest_charge) out.latest_charge = clone(this.charges.get(pi.latest_charge)!);
      return out;
    }
    if ((m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
      if (method === 'POST') return this.updateSubscription(m[1]!, params);
      if (method === 'DELETE') return this.cancelSubscriptionNow(m[1]!, params);
      only(params, ['expand']);
      expandParam(params, []);
      const sub = this.subscriptions.get(m[1]!);
      if (!sub) throw noSuch('subscription', m[1]!, 'id');
      return clone(sub);
    }
    if ((m = /^\/v1\/charges\/([^/]+)$/.exec(path)) && method === 'GET') {
      only(params, ['expand']);
      expandParam(params, []);
      const charge = this.charges.get(m[1]!);
      if (!charge) throw noSuch('charge', m[1]!, 'charge');
      return clone(charge);
    }
    if ((m = /^\/v1\/invoices\/([^/]+)$/.exec(path)) && method === 'GET') {
      only(params, ['expand']);
      expandParam(params, []);
      const invoice = this.invoices.get(m[1]!);
      if (!invoice) throw noSuch('invoice', m[1]!, 'invoice');
      return clone(invoice);
    }
    if ((m = /^\/v1\/invoices\/([^/]+)\/void$/.exec(path)) && method === 'POST') return this.voidInvoice(m[1]!, params);
    if (path === '/v1/billing_portal/sessions' && method === 'POST') return this.createPortalSession(params);
    if (path === '/v1/refunds' && method === 'POST') return this.createRefundFromApi(params, idempotencyKey);
    if (path === '/v1/refunds' && method === 'GET') {
      only(params, ['payment_intent', 'charge', 'limit', 'starting_after', 'ending_before', 'created', 'expand']);
      const pi = str(params.payment_intent);
      const ch = str(params.charge);
      const all = [...this.refunds.values()].filter((r) => (!pi || r.payment_intent === pi) && (!ch || r.charge === ch));
      return this.page(all, params, '/v1/refunds');
    }
    if ((m = /^\/v1\/refunds\/([^/]+)$/.exec(path)) && method === 'GET') {
      only(params, ['expand']);
      const r = this.refunds.get(m[1]!);
      if (!r) throw noSuch('refund', m[1]!, 'refund');
      return clone(r);
    }
    throw new ApiError(404, {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    });
  }

  /** Newest first, Stripe's cursor paging. */
  private page<T extends { id: string; created: number }>(items: T[], params: Obj, url: string): Json {
    const limit = integer(params.limit, 'limit') ?? 10;
    if (limit < 1 || limit > 100) throw invalid('limit must be between 1 and 100', 'limit', 'parameter_invalid_integer');
    const sorted = items
      .map((x, i) => ({ x, i }))
      .sort((a, b) => b.x.created - a.x.created || b.i - a.i)
      .map((e) => e.x);
    let start = 0;
    const after = str(params.starting_after);
    if (after) {
      const idx = sorted.findIndex((x) => x.id === after);
      if (idx < 0) throw invalid(`starting_after ${after} is not in this list`, 'starting_after', 'resource_missing');
      start = idx + 1;
    }
    const data = sorted.slice(start, start + limit);
    return { object: 'list', data: clone(data) as unknown as Json[], has_more: start + limit < sorted.length, url };
  }

  // ---------------------------------------------------------------- sessions

  private session(id: string, param: string): EmuSession {
    const s = this.sessions.get(id);
    if (!s) throw noSuch('checkout.session', id, param);
    this.lapse(s);
    return s;
  }

  /** Stripe expires an open session at expires_at on its own. */
  private lapse(s: EmuSession): void {
    if (s.status === 'open' && this.nowS() >= s.expires_at) this.expireSession(s);
  }

  private expireSession(s: EmuSession): void {
    s.status = 'expired';
    s.url = null;
    this.emit('checkout.session.expired', s);
  }

  private createSession(params: Obj): Json {
    only(params, [
      'mode',
      'line_items',
      'success_url',
      'cancel_url',
      'client_reference_id',
      'metadata',
      'payment_intent_data',
      'subscription_data',
      'expires_at',
      'customer_email',
      'locale',
      'payment_method_types',
      'expand',
    ]);
    const mode = str(params.mode);
    if (params.mode === undefined) throw missing('mode');
    if (mode !== 'payment' && mode !== 'subscription') throw invalid(`Invalid mode: must be one of payment, setup, or subscription`, 'mode');
    const items = arr(params.line_items, 'line_items');
    if (!items || items.length === 0) throw missing('line_items');
    if (items.length !== 1) throw invalid('this emulator takes exactly one line item', 'line_items');
    const item = obj(items[0], 'line_items[0]')!;
    only(item, ['price_data', 'quantity'], 'line_items[0]');
    const pd = obj(item.price_data, 'line_items[0][price_data]');
    if (!pd) throw missing('line_items[0][price_data]');
    only(pd, ['currency', 'unit_amount', 'product_data', 'tax_behavior', 'recurring'], 'line_items[0][price_data]');
    const rec = obj(pd.recurring, 'line_items[0][price_data][recurring]');
    let interval: Interval | null = null;
    let intervalCount = 1;
    if (rec) {
      only(rec, ['interval', 'interval_count'], 'line_items[0][price_data][recurring]');
      const iv = str(rec.interval);
      if (rec.interval === undefined) throw missing('line_items[0][price_data][recurring][interval]');
      if (iv !== 'day' && iv !== 'week' && iv !== 'month' && iv !== 'year')
        throw invalid(`Invalid recurring[interval]: must be one of day, week, month, or year`, 'line_items[0][price_data][recurring][interval]');
      interval = iv;
      intervalCount = integer(rec.interval_count, 'line_items[0][price_data][recurring][interval_count]') ?? 1;
      const maxCount = { day: 365, week: 52, month: 12, year: 1 }[iv];
      if (intervalCount < 1 || intervalCount > maxCount)
        throw invalid(
          'The maximum billing frequency is one year (1 year, 12 months, 52 weeks, or 365 days).',
          'line_items[0][price_data][recurring][interval_count]',
          'parameter_invalid_integer',
        );
    }
    if (mode === 'subscription' && !interval)
      throw invalid('You must specify at least one recurring price in `subscription` mode when using prices.', 'line_items', 'parameter_invalid_empty');
    if (mode === 'payment' && interval)
      throw invalid(
        'You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.',
        'line_items[0][price_data][recurring]',
      );
    const currency = str(pd.currency);
    if (currency === undefined) throw missing('line_items[0][price_data][currency]');
    if (!CURRENCIES.has(currency))
      throw invalid(
        `Invalid currency: ${currency}. Stripe currently supports these currencies (lower case): ${[...CURRENCIES].join(', ')}`,
        'line_items[0][price_data][currency]',
      );
    const unitAmount = integer(pd.unit_amount, 'line_items[0][price_data][unit_amount]');
    if (unitAmount === undefined) throw missing('line_items[0][price_data][unit_amount]');
    if (unitAmount < 0) throw invalid('unit_amount must be at least 0', 'line_items[0][price_data][unit_amount]', 'parameter_invalid_integer');
    const product = obj(pd.product_data, 'line_items[0][price_data][product_data]');
    if (!product) throw missing('line_items[0][price_data][product_data]');
    only(product, ['name', 'description', 'metadata'], 'line_items[0][price_data][product_data]');
    if (!str(product.name)) throw missing('line_items[0][price_data][product_data][name]');
    const quantity = integer(item.quantity, 'line_items[0][quantity]');
    if (quantity === undefined) throw missing('line_items[0][quantity]');
    if (quantity < 1) throw invalid('quantity must be at least 1', 'line_items[0][quantity]', 'parameter_invalid_integer');
    const total = unitAmount * quantity;
    if (total < (MINIMUM[currency] ?? 1))
      throw new ApiError(400, {
        type: 'invalid_request_error',
        code: 'amount_too_small',
        message: `The Checkout Session's total amount due must add up to at least ${MINIMUM[currency] ?? 1} ${currency}.`,
        param: 'line_items[0][price_data][unit_amount]',
      });
    if (THREE_DECIMAL.has(currency) && total % 10 !== 0)
      throw invalid(`Amounts in ${currency} must be divisible by 10`, 'line_items[0][price_data][unit_amount]', 'invalid_amount');
    const successUrl = urlParam(params.success_url, 'success_url');
    if (!successUrl) throw missing('success_url');
    const cancelUrl = urlParam(params.cancel_url, 'cancel_url') ?? null;
    const ref = params.client_reference_id === undefined ? null : str(params.client_reference_id);
    if (ref === undefined) throw invalid('Invalid string', 'client_reference_id');
    if (ref !== null && ref.length > 200) throw invalid('client_reference_id can be at most 200 characters', 'client_reference_id');
    const metadata = metadataParam(params.metadata, 'metadata');
    if (mode === 'subscription' && params.payment_intent_data !== undefined)
      throw invalid('You can not pass `payment_intent_data` in `subscription` mode.', 'payment_intent_data');
    if (mode === 'payment' && params.subscription_data !== undefined)
      throw invalid('You can not pass `subscription_data` in `payment` mode.', 'subscription_data');
    const sd = obj(params.subscription_data, 'subscription_data') ?? {};
    only(sd, ['metadata', 'description'], 'subscription_data');
    const subMetadata = metadataParam(sd.metadata, 'subscription_data[metadata]');
    const pid = obj(params.payment_intent_data, 'payment_intent_data') ?? {};
    only(pid, ['metadata', 'description'], 'payment_intent_data');
    const piMetadata = metadataParam(pid.metadata, 'payment_intent_data[metadata]');
    const now = this.nowS();
    const expiresAt = integer(params.expires_at, 'expires_at') ?? now + 24 * 3600;
    if (expiresAt < now + 30 * 60)
      throw invalid('The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.', 'expires_at', 'parameter_invalid_integer');
    if (expiresAt > now + 24 * 3600)
      throw invalid('The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.', 'expires_at', 'parameter_invalid_integer');
    expandParam(params, []);

    const id = `cs_${this.livemode ? 'live' : 'test'}_a1${rand(56)}`;
    const fragment = Buffer.from(rand(40)).toString('base64url');
    const url =
      this.opts.urlStyle === 'opaque'
        ? `https://checkout.stripe.com/c/pay/ppage_${rand(40)}#${fragment}`
        : `https://checkout.stripe.com/c/pay/${id}#${fragment}`;
    const s: EmuSession = {
      id,
      object: 'checkout.session',
      url,
      mode: mode,
      status: 'open',
      payment_status: 'unpaid',
      payment_intent: null,
      amount_subtotal: total,
      amount_total: total,
      currency,
      client_reference_id: ref,
      metadata,
      success_url: successUrl,
      cancel_url: cancelUrl,
      created: now,
      expires_at: expiresAt,
      livemode: this.livemode,
      customer_details: null,
      subscription: null,
      invoice: null,
      customer: null,
    };
    this.sessions.set(id, s);
    this.piMetadata.set(id, piMetadata);
    if (interval) this.recurring.set(id, { interval, intervalCount, unitAmount, name: str(product.name)!, metadata: subMetadata });
    return clone(s);
  }

  private listSessions(params: Obj): Json {
    only(params, [
      'created',
      'customer',
      'customer_details',
      'ending_before',
      'expand',
      'limit',
      'payment_intent',
      'payment_link',
      'starting_after',
      'status',
      'subscription',
    ]);
    const created = params.created;
    let range: { gte?: number; gt?: number; lte?: number; lt?: number } = {};
    if (typeof created === 'string') range = { gte: integer(created, 'created'), lte: integer(created, 'created') };
    else if (created !== undefined) {
      const c = obj(created, 'created')!;
      only(c, ['gt', 'gte', 'lt', 'lte'], 'created');
      range = { gt: integer(c.gt, 'created[gt]'), gte: integer(c.gte, 'created[gte]'), lt: integer(c.lt, 'created[lt]'), lte: integer(c.lte, 'created[lte]') };
    }
    const pi = str(params.payment_intent);
    const status = str(params.status);
    if (status !== undefined && !['open', 'complete', 'expired'].includes(status)) throw invalid(`Invalid status: ${status}`, 'status');
    for (const s of this.sessions.values()) this.lapse(s);
    const all = [...this.sessions.values()].filter(
      (s) =>
        (range.gte === undefined || s.created >= range.gte) &&
        (range.gt === undefined || s.created > range.gt) &&
        (range.lte === undefined || s.created <= range.lte) &&
        (range.lt === undefined || s.created < range.lt) &&
        (!pi || s.payment_intent === pi) &&
        (!status || s.status === status),
    );
    return this.page(all, params, '/v1/checkout/sessions');
  }

  // ---------------------------------------------------------------- refunds

  private createRefundFromApi(params: Obj, idempotencyKey: string | null): Json {
    only(params, ['payment_intent', 'charge', 'amount', 'metadata', 'reason', 'expand', 'instructions_email']);
    const piId = str(params.payment_intent);
    const chId = str(params.charge);
    if (!piId && !chId)
      throw invalid('One of the following params should be provided for this request: payment_intent or charge.', 'payment_intent', 'parameter_missing');
    const amount = integer(params.amount, 'amount');
    const reason = str(params.reason) ?? null;
    if (reason !== null && !['duplicate', 'fraudulent', 'requested_by_customer'].includes(reason))
      throw invalid(`Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer`, 'reason');
    const metadata = metadataParam(params.metadata, 'metadata');
    expandParam(params, []);
    let charge: EmuCharge | undefined;
    if (piId) {
      const pi = this.paymentIntents.get(piId);
      if (!pi)
        throw new ApiError(400, {
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: `No such payment_intent: '${piId}'`,
          param: 'payment_intent',
        });
      charge = pi.latest_charge ? this.charges.get(pi.latest_charge) : undefined;
      if (!charge || pi.status !== 'succeeded')
        throw new ApiError(
          400,
          { type: 'invalid_request_error', message: `This PaymentIntent (${piId}) does not have a successful charge to refund.`, param: 'payment_intent' },
          true,
        );
    } else {
      charge = this.charges.get(chId!);
      if (!charge) throw new ApiError(400, { type: 'invalid_request_error', code: 'resource_missing', message: `No such charge: '${chId}'`, param: 'charge' });
    }
    return clone(this.refundCharge(charge, amount, { metadata, reason, status: this.refundStatus, idempotencyKey }));
  }

  private refundCharge(
    charge: EmuCharge,
    amount: number | undefined,
    o: { metadata: { [k: string]: string }; reason: string | null; status: EmuRefund['status']; idempotencyKey: string | null },
  ): EmuRefund {
    const remaining = charge.amount - charge.amount_refunded;
    if (remaining <= 0)
      throw new ApiError(
        400,
        { type: 'invalid_request_error', code: 'charge_already_refunded', message: `Charge ${charge.id} has already been refunded.` },
        true,
      );
    const value = amount ?? remaining;
    if (value < 1) throw invalid('Refund amount must be positive', 'amount', 'parameter_invalid_integer');
    if (value > remaining)
      throw new ApiError(
        400,
        {
          type: 'invalid_request_error',
          code: 'amount_too_large',
          message: `Refund amount (${value}) is greater than unrefunded amount on charge (${remaining})`,
          param: 'amount',
        },
        true,
      );
    const r: EmuRefund = {
      id: `re_${rand(24)}`,
      object: 'refund',
      amount: value,
      currency: charge.currency,
      status: o.status,
      payment_intent: charge.payment_intent,
      charge: charge.id,
      metadata: o.metadata,
      reason: o.reason,
      failure_reason: null,
      created: this.nowS(),
    };
    this.refunds.set(r.id, r);
    // Like Stripe, the charge shows the refund (and charge.refunded fires) as soon as the refund exists.
    charge.amount_refunded += value;
    charge.refunded = charge.amount_refunded >= charge.amount;
    this.emit('refund.created', r, o.idempotencyKey);
    this.emit('charge.refunded', charge, o.idempotencyKey);
    return r;
  }

  // ---------------------------------------------------------------- the outside world (test controls)

  /**
   * The customer pays on the Checkout page. A card settles at once (`checkout.session.completed` with
   * payment_status=paid); a delayed method (`delayed: true`) completes unpaid and settles later with
   * settleDelayed(). Returns the events it caused (not delivered: call deliver()).
   */
  pay(
    sessionId: string,
    o: { delayed?: boolean } = {},
  ): { session: EmuSession; paymentIntent: EmuPaymentIntent; charge: EmuCharge | null; events: EmuEvent[] } {
    const s = this.sessions.get(sessionId);
    if (!s) throw new Error(`emulator: no session ${sessionId}`);
    this.lapse(s);
    if (s.status !== 'open') throw new Error(`emulator: session ${sessionId} is ${s.status}, it cannot be paid`);
    const before = this.events.length;
    const now = this.nowS();
    const pi: EmuPaymentIntent = {
      id: `pi_${rand(24)}`,
      object: 'payment_intent',
      amount: s.amount_total,
      amount_received: 0,
      currency: s.currency,
      status: 'processing',
      latest_charge: null,
      invoice: null,
      metadata: { ...(this.piMetadata.get(s.id) ?? {}) },
      created: now,
      livemode: this.livemode,
    };
    this.paymentIntents.set(pi.id, pi);
    s.status = 'complete';
    s.customer_details = { email: 'member@example.com', name: 'Test Member' };
    const sells = this.recurring.get(s.id);
    if (sells) {
      // Subscription mode: a customer, the subscription, and its first invoice paid by this PaymentIntent.
      if (o.delayed) throw new Error('emulator: delayed methods are not emulated in subscription mode');
      pi.metadata = {};
      const customer = `cus_${rand(14)}`;
      this.customers.add(customer);
      this.emit('customer.created', { id: customer, object: 'customer', created: now, livemode: this.livemode });
      const sub: EmuSubscription = {
        id: `sub_${rand(24)}`,
        object: 'subscription',
        status: 'active',
        cancel_at_period_end: false,
        canceled_at: null,
        ended_at: null,
        customer,
        current_period_start: now,
        current_period_end: addInterval(now, sells.interval, sells.intervalCount),
        latest_invoice: null,
        metadata: { ...sells.metadata },
        items: {
          object: 'list',
          data: [
            {
              object: 'subscription_item',
              price: { unit_amount: s.amount_total, currency: s.currency, recurring: { interval: sells.interval, interval_count: sells.intervalCount } },
            },
          ],
        },
        currency: s.currency,
        created: now,
        livemode: this.livemode,
      };
      this.subscriptions.set(sub.id, sub);
      const charge = this.succeed(pi);
      this.emit('customer.subscription.created', sub);
      const invoice = this.newInvoice(sub, 'subscription_create', sub.current_period_start, sub.current_period_end, pi, true);
      s.payment_status = 'paid';
      s.subscription = sub.id;
      s.invoice = invoice.id;
      s.customer = customer;
      this.emit('checkout.session.completed', s);
      return { session: clone(s), paymentIntent: clone(pi), charge: clone(charge), events: this.events.slice(before) };
    }
    s.payment_intent = pi.id;
    let charge: EmuCharge | null = null;
    if (o.delayed) {
      s.payment_status = 'unpaid';
      this.emit('payment_intent.processing', pi);
      this.emit('checkout.session.completed', s);
    } else {
      charge = this.succeed(pi);
      s.payment_status = 'paid';
      this.emit('checkout.session.completed', s);
    }
    return { session: clone(s), paymentIntent: clone(pi), charge: charge ? clone(charge) : null, events: this.events.slice(before) };
  }

  /** A delayed payment method settles (or fails). */
  settleDelayed(sessionId: string, ok = true): EmuEvent[] {
    const s = this.sessions.get(sessionId);
    if (!s || s.status !== 'complete' || s.payment_status !== 'unpaid' || !s.payment_intent)
      throw new Error(`emulator: session ${sessionId} has no delayed payment to settle`);
    const before = this.events.length;
    const pi = this.paymentIntents.get(s.payment_intent)!;
    if (ok) {
      this.succeed(pi);
      s.payment_status = 'paid';
      this.emit('checkout.session.async_payment_succeeded', s);
    } else {
      pi.status = 'requires_payment_method';
      this.emit('payment_intent.payment_failed', pi);
      this.emit('checkout.session.async_payment_failed', s);
    }
    return this.events.slice(before);
  }

  /** A finalized invoice of a subscription for one period; paid by `pi` when given (invoice.paid and payment_succeeded). */
  private newInvoice(
    sub: EmuSubscription,
    reason: EmuInvoice['billing_reason'],
    start: number,
    end: number,
    pi: EmuPaymentIntent | null,
    paid: boolean,
    usageStart = start,
    free = false,
  ): EmuInvoice {
    const now = this.nowS();
    const amount = (sub.items.data as Obj[])[0]!.price as Obj;
    const due = free ? 0 : (amount.unit_amount as number);
    const id = `in_${rand(24)}`;
    const invoice: EmuInvoice = {
      id,
      object: 'invoice',
      billing_reason: reason,
      subscription: sub.id,
      subscription_details: { metadata: { ...sub.metadata } },
      customer: sub.customer,
      amount_due: due,
      amount_paid: 0,
      amount_remaining: due,
      attempt_count: 0,
      currency: sub.currency,
      status: 'open',
      hosted_invoice_url: `https://invoice.stripe.com/i/acct_emulated/test_${rand(40)}`,
      payment_intent: pi?.id ?? null,
      charge: null,
      // An invoice's own period is its usage window (the previous period for a cycle); the line is what it pays for.
      period_start: usageStart,
      period_end: start,
      lines: {
        object: 'list',
        data: [
          {
            id: `il_${rand(24)}`,
            object: 'line_item',
            amount: amount.unit_amount as number,
            currency: sub.currency,
            period: { start, end },
            subscription: sub.id,
          },
        ],
        has_more: false,
        url: `/v1/invoices/${id}/lines`,
      },
      status_transitions: { finalized_at: now, paid_at: null },
      created: now,
      livemode: this.livemode,
    };
    this.invoices.set(id, invoice);
    sub.latest_invoice = id;
    this.emit('invoice.created', invoice);
    this.emit('invoice.finalized', invoice);
    if (paid) this.markInvoicePaid(invoice);
    return invoice;
  }

  private markInvoicePaid(invoice: EmuInvoice): void {
    invoice.attempt_count += 1;
    invoice.status = 'paid';
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_remaining = 0;
    invoice.status_transitions.paid_at = this.nowS();
    const pi = invoice.payment_intent ? this.paymentIntents.get(invoice.payment_intent) : undefined;
    invoice.charge = pi?.latest_charge ?? null;
    // At the pinned API version a subscription's PaymentIntent and charge name their invoice (and carry no metadata).
    if (pi) pi.invoice = invoice.id;
    const charge = invoice.charge ? this.charges.get(invoice.charge) : undefined;
    if (charge) charge.invoice = invoice.id;
    this.emit('invoice.paid', invoice);
    this.emit('invoice.payment_succeeded', invoice);
  }

  private newIntent(amount: number, currency: string): EmuPaymentIntent {
    const pi: EmuPaymentIntent = {
      id: `pi_${rand(24)}`,
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency,
      status: 'processing',
      latest_charge: null,
      invoice: null,
      metadata: {},
      created: this.nowS(),
      livemode: this.livemode,
    };
    this.paymentIntents.set(pi.id, pi);
    return pi;
  }

  /**
   * Stripe's billing run at the end of a subscription's period (refused before the clock gets there): with
   * cancel_at_period_end the subscription ends (status canceled, customer.subscription.deleted); otherwise a
   * subscription_cycle invoice for the next period is charged — paid (invoice.paid), or, with `fail`, declined
   * (invoice.payment_failed, the subscription past_due; the period still advances, as Stripe's does), or, with
   * `free`, one with nothing due (a 100 % coupon or credit balance), paid without any PaymentIntent.
   */
  cycle(subscriptionId: string, o: { fail?: boolean; free?: boolean } = {}): { invoice: EmuInvoice | null; events: EmuEvent[] } {
    const sub = this.subscriptions.get(subscriptionId);
    if (!sub) throw new Error(`emulator: no subscription ${subscriptionId}`);
    if (sub.status === 'canceled') throw new Error(`emulator: subscription ${subscriptionId} is canceled`);
    const now = this.nowS();
    if (now < sub.current_period_end)
      throw new Error(`emulator: subscription ${subscriptionId}'s period ends at ${sub.current_period_end}, the clock is at ${now}`);
    const before = this.events.length;
    if (sub.cancel_at_period_end) {
      sub.status = 'canceled';
      sub.ended_at = sub.current_period_end;
      sub.canceled_at ??= now;
      this.emit('customer.subscription.deleted', sub);
      return { invoice: null, events: this.events.slice(before) };
    }
    const price = (sub.items.data as Obj[])[0]!.price as Obj;
    const rec = price.recurring as Obj;
    const previousStart = sub.current_period_start;
    const before_: Obj = { current_period_start: sub.current_period_start, current_period_end: sub.current_period_end, latest_invoice: sub.latest_invoice };
    const start = sub.current_period_end;
    const end = addInterval(start, rec.interval as Interval, rec.interval_count as number);
    sub.current_period_start = start;
    sub.current_period_end = end;
    if (o.free) {
      // Nothing due (a 100 % coupon, or credit balance covering it): Stripe marks the invoice paid with no payment.
      const invoice = this.newInvoice(sub, 'subscription_cycle', start, end, null, true, previousStart, true);
      this.emit('customer.subscription.updated', sub, null, before_);
      return { invoice: clone(invoice), events: this.events.slice(before) };
    }
    const pi = this.newIntent(price.unit_amount as number, sub.currency);
    const invoice = this.newInvoice(sub, 'subscription_cycle', start, end, pi, false, previousStart);
    if (o.fail) {
      invoice.attempt_count += 1;
      pi.status = 'requires_payment_method';
      this.emit('payment_intent.payment_failed', pi);
      this.emit('invoice.payment_failed', invoice);
      before_.status = sub.status;
      sub.status = 'past_due';
    } else {
      this.succeed(pi);
      this.markInvoicePaid(invoice);
    }
    this.emit('customer.subscription.updated', sub, null, before_);
    return { invoice: clone(invoice), events: this.events.slice(before) };
  }

  /** The member pays an open invoice on its hosted page (after a failed renewal). */
  payInvoice(invoiceId: string): EmuEvent[] {
    const invoice = this.invoices.get(invoiceId);
    if (!invoice || invoice.status !== 'open' || !invoice.payment_intent) throw new Error(`emulator: invoice ${invoiceId} is not open`);
    const before = this.events.length;
    this.succeed(this.paymentIntents.get(invoice.payment_intent)!);
    this.markInvoicePaid(invoice);
    const sub = this.subscriptions.get(invoice.subscription)!;
    if (sub.status === 'past_due') {
      sub.status = 'active';
      this.emit('customer.subscription.updated', sub, null, { status: 'past_due' });
    }
    return this.events.slice(before);
  }

  /** The subscription of a session paid in subscription mode. */
  subscriptionOf(sessionId: string): EmuSubscription | undefined {
    const id = this.sessions.get(sessionId)?.subscription;
    return id ? this.subscriptions.get(id) : undefined;
  }

  private updateSubscription(id: string, params: Obj): Json {
    only(params, ['cancel_at_period_end', 'metadata', 'expand', 'cancellation_details']);
    const sub = this.subscriptions.get(id);
    if (!sub) throw noSuch('subscription', id, 'id');
    expandParam(params, []);
    const cape = params.cancel_at_period_end;
    if (cape !== undefined && cape !== 'true' && cape !== 'false')
      throw invalid('Invalid boolean: ' + String(cape), 'cancel_at_period_end', 'parameter_invalid_boolean');
    if (sub.status === 'canceled' && cape !== undefined)
      throw new ApiError(
        400,
        {
          type: 'invalid_request_error',
          message: 'A canceled subscription can only update its cancellation_details and metadata.',
          param: 'cancel_at_period_end',
        },
        true,
      );
    if (params.metadata !== undefined) sub.metadata = { ...sub.metadata, ...metadataParam(params.metadata, 'metadata') };
    if (cape !== undefined && (cape === 'true') !== sub.cancel_at_period_end) {
      const before: Obj = { cancel_at_period_end: sub.cancel_at_period_end, canceled_at: sub.canceled_at };
      sub.cancel_at_period_end = cape === 'true';
      sub.canceled_at = sub.cancel_at_period_end ? this.nowS() : null;
      this.emit('customer.subscription.updated', sub, null, before);
    }
    return clone(sub);
  }

  /**
   * `DELETE /v1/subscriptions/{id}`: canceled at once (status canceled, ended now, no further invoice; proration and a
   * final invoice only when asked, which we do not emulate), customer.subscription.deleted; an ended one is refused.
   */
  private cancelSubscriptionNow(id: string, params: Obj): Json {
    only(params, ['cancellation_details', 'invoice_now', 'prorate', 'expand']);
    expandParam(params, []);
    if (params.invoice_now === 'true' || params.prorate === 'true') throw invalid('emulator: invoice_now and prorate are not emulated');
    const sub = this.subscriptions.get(id);
    if (!sub) throw noSuch('subscription', id, 'id');
    if (sub.status === 'canceled')
      throw new ApiError(400, { type: 'invalid_request_error', message: `This subscription has already been canceled.`, param: 'id' }, true);
    const now = this.nowS();
    sub.status = 'canceled';
    sub.canceled_at = now;
    sub.ended_at = now;
    this.emit('customer.subscription.deleted', sub);
    return clone(sub);
  }

  /**
   * `POST /v1/invoices/{id}/void` (docs.stripe.com/api/invoices/void): a finalized, unpaid invoice becomes `void` for
   * good — nothing is left to pay and its hosted page takes no payment (payInvoice refuses it); invoice.voided. A paid
   * or void invoice is refused. Cancelling a subscription does not do this by itself: Stripe only stops automatic
   * collection of its open invoices (docs.stripe.com/api/subscriptions/cancel).
   */
  private voidInvoice(id: string, params: Obj): Json {
    only(params, ['expand']);
    expandParam(params, []);
    const invoice = this.invoices.get(id);
    if (!invoice) throw noSuch('invoice', id, 'invoice');
    if (invoice.status !== 'open') throw invalid(`You can only pass in open or uncollectible invoices. This invoice is ${invoice.status}.`);
    invoice.status = 'void';
    invoice.amount_remaining = 0;
    this.emit('invoice.voided', invoice);
    return clone(invoice);
  }

  private createPortalSession(params: Obj): Json {
    only(params, ['customer', 'return_url', 'configuration', 'locale', 'flow_data', 'on_behalf_of', 'expand']);
    const customer = str(params.customer);
    if (params.customer === undefined) throw missing('customer');
    if (!customer || !this.customers.has(customer)) throw noSuch('customer', String(customer), 'customer');
    const returnUrl = urlParam(params.return_url, 'return_url') ?? null;
    if (!this.portalConfigured)
      throw invalid(
        `You can't create a portal session in ${this.livemode ? 'live' : 'test'} mode until you save your customer portal settings in ${this.livemode ? 'live' : 'test'} mode at https://dashboard.stripe.com/${this.livemode ? '' : 'test/'}settings/billing/portal.`,
      );
    expandParam(params, []);
    const session = { id: `bps_${rand(24)}`, customer, return_url: returnUrl, url: `https://billing.stripe.com/p/session/test_${rand(40)}` };
    this.portalSessions.push(session);
    return {
      ...session,
      object: 'billing_portal.session',
      created: this.nowS(),
      livemode: this.livemode,
      configuration: `bpc_${rand(24)}`,
      flow: null,
      locale: null,
      on_behalf_of: null,
    };
  }

  private succeed(pi: EmuPaymentIntent): EmuCharge {
    const now = this.nowS();
    const charge: EmuCharge = {
      id: `ch_${rand(24)}`,
      object: 'charge',
      amount: pi.amount,
      amount_captured: pi.amount,
      amount_refunded: 0,
      currency: pi.currency,
      paid: true,
      refunded: false,
      status: 'succeeded',
      payment_intent: pi.id,
      invoice: pi.invoice,
      metadata: { ...pi.metadata },
      created: now,
      livemode: this.livemode,
    };
    this.charges.set(charge.id, charge);
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    pi.latest_charge = charge.id;
    this.emit('charge.succeeded', charge);
    this.emit('payment_intent.succeeded', pi);
    return charge;
  }

  /** The owner refunds in the Stripe dashboard (no API call from us, no metadata of ours on the refund). */
  dashboardRefund(paymentIntentId: string, amount?: number): { refund: EmuRefund; events: EmuEvent[] } {
    const pi = this.paymentIntents.get(paymentIntentId);
    const charge = pi?.latest_charge ? this.charges.get(pi.latest_charge) : undefined;
    if (!charge) throw new Error(`emulator: ${paymentIntentId} has no charge to refund`);
    const before = this.events.length;
    const refund = this.refundCharge(charge, amount, { metadata: {}, reason: 'requested_by_customer', status: 'succeeded', idempotencyKey: null });
    return { refund: clone(refund), events: this.events.slice(before) };
  }

  /** A pending refund finishes. */
  settleRefund(refundId: string, status: 'succeeded' | 'failed'): EmuEvent[] {
    const r = this.refunds.get(refundId);
    if (!r || r.status !== 'pending') throw new Error(`emulator: refund ${refundId} is not pending`);
    const before = this.events.length;
    r.status = status;
    if (status === 'failed') {
      r.failure_reason = 'lost_or_stolen_card';
      const charge = this.charges.get(r.charge)!;
      charge.amount_refunded -= r.amount;
      charge.refunded = charge.amount_refunded >= charge.amount;
      this.emit('refund.failed', r);
    } else {
      this.emit('refund.updated', r);
    }
    return this.events.slice(before);
  }

  private emit(type: string, object: Obj, idempotencyKey: string | null = null, previousAttributes?: Obj): EmuEvent {
    const e: EmuEvent = {
      id: `evt_${(++this.seq).toString(36).padStart(4, '0')}${rand(20)}`,
      object: 'event',
      api_version: API_VERSION,
      created: this.nowS(),
      data: previousAttributes ? { object: clone(object), previous_attributes: clone(previousAttributes) } : { object: clone(object) },
      livemode: this.livemode,
      pending_webhooks: 1,
      request: { id: idempotencyKey ? `req_${rand(14)}` : null, idempotency_key: idempotencyKey },
      type,
    };
    this.events.push(e);
    return e;
  }

  eventsOf(type: string, objectId?: string): EmuEvent[] {
    return this.events.filter((e) => e.type === type && (objectId === undefined || e.data.object.id === objectId));
  }

  /** The session created for an order number (client_reference_id). */
  sessionFor(outTradeNo: string): EmuSession | undefined {
    return [...this.sessions.values()].find((s) => s.client_reference_id === outTradeNo);
  }

  // ---------------------------------------------------------------- webhooks

  /**
   * The exact bytes and header Stripe sends: the event pretty-printed, and
   * `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload" with the endpoint secret>`.
   */
  sign(event: EmuEvent, o: { at?: number; secret?: string; extraSignatures?: string[] } = {}): { payload: string; header: string } {
    const payload = JSON.stringify(event, null, 2);
    const t = o.at ?? this.nowS();
    const v1 = createHmac('sha256', o.secret ?? this.opts.webhookSecret)
      .update(`${t}.${payload}`, 'utf8')
      .digest('hex');
    return { payload, header: [`t=${t}`, `v1=${v1}`, ...(o.extraSignatures ?? []).map((s) => `v1=${s}`)].join(',') };
  }

  /** POSTs a signed event to the webhook URL, `times` times in a row; returns each answer. */
  async deliver(event: EmuEvent, o: { times?: number; concurrently?: boolean; at?: number; secret?: string } = {}): Promise<Delivery[]> {
    const url = this.webhookUrl;
    if (!url) throw new Error('emulator: no webhookUrl to deliver to');
    const one = async (): Promise<Delivery> => {
      const { payload, header } = this.sign(event, o);
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': header,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: payload,
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: await res.text() };
    };
    const times = Math.max(1, Math.min(o.times ?? 1, 1000));
    if (o.concurrently) return Promise.all(Array.from({ length: times }, one));
    const out: Delivery[] = [];
    for (let i = 0; i < times; i++) out.push(await one());
    return out;
  }
}

/**
 * Stripe's calendar periods: a week is 7 days; a month ends on the same day of the next month, or that month's last
 * day when it is shorter (Jan 31 → Feb 28/29); a year likewise (Feb 29 → Feb 28). Times stay those of the start.
 */
export function addInterval(startS: number, interval: Interval, count = 1): number {
  if (interval === 'day' || interval === 'week') return startS + count * (interval === 'day' ? 1 : 7) * 86_400;
  const d = new Date(startS * 1000);
  const months = interval === 'month' ? count : 12 * count;
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const end = Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
  return Math.floor(end / 1000);
}
