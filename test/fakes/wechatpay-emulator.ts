// A strict loopback emulator of the WeChat Pay API v3 (Native): create / query / close / refund, signed
// answers, encrypted and signed notifications. Its crypto is the official SDK's (wechatpay-axios-plugin:
// Rsa, Formatter, Aes.AesGcm), never ours, so a test against it checks our code with code we did not write.
//
// Strict: every request must carry a valid WECHATPAY2-SHA256-RSA2048 Authorization made with the merchant
// key (else 401 SIGN_ERROR, unsigned, as WeChat Pay does), bodies are validated like the real API, and
// every other answer is signed with the platform key. Faults let a test make it unreachable, hang, 5xx,
// or sign its answers wrongly. Notifications are built when the state changes and delivered only when the
// test says so: once, twice, out of order, late, or never.
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';

export interface WechatPayEmulatorOptions {
  mchid: string;
  appid: string;
  /** Our merchant certificate serial and public key: the emulator checks our request signatures with them. */
  merchantSerial: string;
  merchantPublicKeyPem: string;
  /** The platform key the emulator signs answers and notifications with, and the serial it names. */
  platformSerial: string;
  platformPrivateKeyPem: string;
  apiV3Key: string;
  /** Epoch ms; pass the test's fake clock so signatures and expiry agree with the service under test. */
  now?: () => number;
  /** `processing` (default, like the real API): a refund answers PROCESSING and completes on completeRefund(). */
  refundMode?: 'processing' | 'success';
  /** An Official Account appid also bound to this merchant (JSAPI may name it instead of `appid`). */
  mpAppid?: string;
}

export type TradeState = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'CLOSED' | 'REFUND' | 'PAYERROR' | 'REVOKED';
export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';

export interface EmulatedOrder {
  appid: string;
  mchid: string;
  description: string;
  outTradeNo: string;
  timeExpire: string | null;
  expireAt: number | null;
  notifyUrl: string;
  total: number;
  currency: string;
  codeUrl: string;
  /** NATIVE (code_url), JSAPI (prepay_id, payer openid) or MWEB (H5: h5_url, the payer's address). */
  tradeType?: 'NATIVE' | 'JSAPI' | 'MWEB';
  prepayId?: string | null;
  h5Url?: string | null;
  payerOpenid?: string | null;
  payerClientIp?: string | null;
  state: TradeState;
  transactionId: string | null;
  successTime: string | null;
  createdAt: number;
}

export interface EmulatedRefund {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  transactionId: string;
  refund: number;
  total: number;
  currency: string;
  status: RefundStatus;
  reason: string | null;
  notifyUrl: string | null;
  createTime: string;
  successTime: string | null;
}

/** A notification as WeChat Pay would send it: a fixed body, signed afresh at each delivery. */
export interface EmulatedNotification {
  id: string;
  eventType: string;
  notifyUrl: string | null;
  body: string;
}

export type Fault =
  /** The connection is dropped at once (no HTTP answer at all). */
  | { kind: 'reset' }
  /** The request is accepted and never answered (until the emulator closes). */
  | { kind: 'hang' }
  /** An error status before anything is done (500 SYSTEM_ERROR, 429 FREQUENCY_LIMITED, …). */
  | { kind: 'status'; status: number; code: string }
  /** The request is carried out, but its answer's signature is broken in the named way. */
  | { kind: 'answer'; tamper: 'bad_signature' | 'signtest' | 'unsigned' | 'wrong_serial' | 'stale' };

export type AnswerTamper = Extract<Fault, { kind: 'answer' }>['tamper'];

export interface CallRecord {
  method: string;
  path: string;
  status: number;
  code: string | null;
}

export interface DeliveryOptions {
  /** Deliver here instead of the order's notify_url. */
  url?: string;
  signature?: 'valid' | 'signtest' | 'wrong';
  serial?: string;
  /** Shift the signed timestamp (to make it stale). */
  timestampOffsetMs?: number;
  /** Send these bytes instead of the notification's body, signed as given (to test tampering after signing). */
  bodyOverride?: string;
}

const OUT_TRADE_NO = /^[0-9A-Za-z_\-*|]{6,32}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const RFC3339_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const MAX_SKEW_S = 300;
const MAX_BODY = 1 << 20;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly signed = true,
  ) {
    super(message);
  }
}

/** Epoch ms → RFC 3339 in China time, written here independently of the code under test. */
export function chinaTime(ms: number): string {
  const d = new Date(Math.floor(ms / 1000) * 1000 + 8 * 3_600_000);
  return d.toISOString().replace(/\.\d{3}Z$/, '+08:00');
}

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

export class WechatPayEmulator {
  readonly orders = new Map<string, EmulatedOrder>();
  readonly refunds = new Map<string, EmulatedRefund>();
  readonly calls: CallRecord[] = [];
  /** Every notification the emulator would send, in the order the events happened. */
  readonly outbox: EmulatedNotification[] = [];
  readonly deliveries: Array<{ id: string; url: string; status: number }> = [];
  refundMode: 'processing' | 'success';
  private faults: Array<{ fault: Fault; remaining: number }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly merchantKey: KeyObject;
  private readonly platformKey: KeyObject;
  private readonly now: () => number;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly opts: WechatPayEmulatorOptions,
  ) {
    this.merchantKey = Rsa.from(opts.merchantPublicKeyPem, Rsa.KEY_TYPE_PUBLIC);
    this.platformKey = Rsa.from(opts.platformPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE);
    this.now = opts.now ?? Date.now;
    this.refundMode = opts.refundMode ?? 'processing';
  }

  static async start(opts: WechatPayEmulatorOptions): Promise<WechatPayEmulator> {
    // eslint-disable-next-line prefer-const -- the server's handler needs it before it is made
    let emulator: WechatPayEmulator | undefined;
    const server = createServer((req, res) => void emulator!.handle(req, res));
    server.on('connection', (s) => {
      emulator?.sockets.add(s);
      s.on('close', () => emulator?.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    emulator = new WechatPayEmulator(server, `http://127.0.0.1:${port}`, opts);
    return emulator;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Applies `fault` to the next `times` requests (every request until cleared when omitted). */
  setFault(fault: Fault | null, times = Number.POSITIVE_INFINITY): void {
    this.faults = fault ? [{ fault, remaining: times }] : [];
  }

  callsTo(method: string, pathPrefix: string): CallRecord[] {
    return this.calls.filter((c) => c.method === method && c.path.startsWith(pathPrefix));
  }

  // ------------------------------------------------------------------ what happens "at WeChat Pay"

  /** The person scans and pays: NOTPAY → SUCCESS. Returns the TRANSACTION.SUCCESS notification (not delivered). */
  pay(outTradeNo: string, opts: { resourceOverrides?: Record<string, unknown> } = {}): EmulatedNotification {
    const o = this.orders.get(outTradeNo);
    if (!o) throw new Error(`emulator: no order ${outTradeNo}`);
    if (o.state !== 'NOTPAY' && o.state !== 'USERPAYING') throw new Error(`emulator: order ${outTradeNo} is ${o.state}, it cannot be paid`);
    if (o.expireAt !== null && this.now() > o.expireAt) throw new Error(`emulator: order ${outTradeNo} expired at ${o.timeExpire}`);
    o.state = 'SUCCESS';
    o.transactionId = `42000${digits(23)}`;
    o.successTime = chinaTime(this.now());
    return this.push(this.notification('TRANSACTION.SUCCESS', 'transaction', { ...this.transactionJson(o), ...opts.resourceOverrides }, o.notifyUrl));
  }

  /** A PROCESSING refund finishes. Returns its REFUND.SUCCESS notification when it succeeded. */
  completeRefund(outRefundNo: string, status: 'SUCCESS' | 'ABNORMAL' | 'CLOSED' = 'SUCCESS'): EmulatedNotification {
    const r = this.refunds.get(outRefundNo);
    if (!r) throw new Error(`emulator: no refund ${outRefundNo}`);
    if (r.status !== 'PROCESSING') throw new Error(`emulator: refund ${outRefundNo} is already ${r.status}`);
    r.status = status;
    if (status === 'SUCCESS') r.successTime = chinaTime(this.now());
    return this.push(this.notification(`REFUND.${status}`, 'refund', this.refundNotificationJson(r), r.notifyUrl));
  }

  /**
   * The merchant refunds part (or all) of a paid order in the merchant platform (商户平台), not through our
   * API call: a new refund under its own out_refund_no, SUCCESS at once, notified to the order's notify_url.
   * The same limits as the API: a paid order, and never more than what is left to refund.
   */
  merchantPlatformRefund(outTradeNo: string, fen: number): { refund: EmulatedRefund; notification: EmulatedNotification } {
    const o = this.orders.get(outTradeNo);
    if (!o || (o.state !== 'SUCCESS' && o.state !== 'REFUND')) throw new Error(`emulator: ${outTradeNo} is not a paid order`);
    const refunded = [...this.refunds.values()]
      .filter((r) => r.outTradeNo === outTradeNo && r.status !== 'CLOSED' && r.status !== 'ABNORMAL')
      .reduce((sum, r) => sum + r.refund, 0);
    if (!Number.isSafeInteger(fen) || fen < 1 || refunded + fen > o.total)
      throw new Error(`emulator: cannot refund ${fen} of ${outTradeNo} (${o.total - refunded} left)`);
    const r: EmulatedRefund = {
      outRefundNo: `mp${digits(30)}`,
      refundId: `50300${digits(25)}`,
      outTradeNo,
      transactionId: o.transactionId!,
      refund: fen,
      total: o.total,
      currency: 'CNY',
      status: 'PROCESSING',
      reason: null,
      notifyUrl: o.notifyUrl,
      createTime: chinaTime(this.now()),
      successTime: null,
    };
    this.refunds.set(r.outRefundNo, r);
    o.state = 'REFUND';
    return { refund: r, notification: this.completeRefund(r.outRefundNo) };
  }

  /** Any notification, encrypted with the APIv3 key by the SDK (for tests of odd or hostile content). */
  notification(
    eventType: string,
    originalType: string,
    resource: unknown,
    notifyUrl: string | null,
    opts: { associatedData?: string; key?: string } = {},
  ): EmulatedNotification {
    const nonce = Formatter.nonce(12);
    const aad = opts.associatedData ?? originalType;
    const ciphertext = Aes.AesGcm.encrypt(JSON.stringify(resource), opts.key ?? this.opts.apiV3Key, nonce, aad);
    const id = randomUUID();
    const body = JSON.stringify({
      id,
      create_time: chinaTime(this.now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary: eventType.startsWith('REFUND') ? '退款成功' : '支付成功',
      resource: { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: aad, nonce },
    });
    return { id, eventType, notifyUrl, body };
  }

  /** The headers WeChat Pay sends with a notification (or an answer): signed over `ts\nnonce\nbody\n` by the SDK. */
  signedHeaders(
    body: string,
    o: { signature?: 'valid' | 'signtest' | 'wrong'; serial?: string; timestampOffsetMs?: number; signedBody?: string } = {},
  ): Record<string, string> {
    const ts = Math.floor((this.now() + (o.timestampOffsetMs ?? 0)) / 1000);
    const nonce = Formatter.nonce(32);
    let signature = Rsa.sign(Formatter.response(ts, nonce, o.signedBody ?? body), this.platformKey);
    if (o.signature === 'signtest') signature = `WECHATPAY/SIGNTEST/${signature}`;
    if (o.signature === 'wrong') signature = Rsa.sign(Formatter.response(ts, nonce, `${body} `), this.platformKey);
    return {
      'wechatpay-timestamp': String(ts),
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signature,
      'wechatpay-serial': o.serial ?? this.opts.platformSerial,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'request-id': randomUUID(),
    };
  }

  /** POSTs a notification to its notify_url (or `opts.url`) with fresh signed headers; resolves with the answer. */
  async deliver(n: EmulatedNotification, opts: DeliveryOptions = {}): Promise<{ status: number; body: string }> {
    const url = opts.url ?? n.notifyUrl;
    if (!url) throw new Error(`emulator: notification ${n.id} has no notify_url`);
    const sent = opts.bodyOverride ?? n.body;
    const headers = { 'content-type': 'application/json', 'user-agent': 'Mozilla/4.0', ...this.signedHeaders(sent, { ...opts, signedBody: n.body }) };
    const res = await fetch(url, { method: 'POST', headers, body: sent, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    this.deliveries.push({ id: n.id, url, status: res.status });
    return { status: res.status, body };
  }

  /** A signature probe: a well-formed notification whose signature begins `WECHATPAY/SIGNTEST/`. */
  async probe(url: string): Promise<{ status: number; body: string }> {
    const n = this.notification('TRANSACTION.SUCCESS', 'transaction', { probe: true }, url);
    return this.deliver(n, { signature: 'signtest' });
  }

  private push(n: EmulatedNotification): EmulatedNotification {
    this.outbox.push(n);
    return n;
  }

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const slot = this.faults[0];
    if (slot) {
      slot.remaining -= 1;
      if (slot.remaining <= 0) this.faults.shift();
      if (slot.fault.kind === 'reset') {
        this.calls.push({ method, path, status: 0, code: 'RESET' });
        req.socket.destroy();
        return;
      }
      if (slot.fault.kind === 'hang') {
        this.calls.push({ method, path, status: 0, code: 'HANG' });
        return;
      }
      if (slot.fault.kind === 'status') {
        this.calls.push({ method, path, status: slot.fault.status, code: slot.fault.code });
        this.send(res, slot.fault.status, { code: slot.fault.code, message: 'emulated failure' }, slot.fault.status < 500);
        return;
      }
    }
    const tamper = slot?.fault.kind === 'answer' ? slot.fault.tamper : null;

    let status = 500;
    let code: string | null = null;
    try {
      const raw = await readBody(req);
      this.authenticate(req, method, path, raw);
      const answer = this.route(method, path, raw);
      status = answer.status;
      this.send(res, answer.status, answer.json, true, tamper);
    } catch (err) {
      if (err instanceof ApiError) {
        status = err.status;
        code = err.code;
        this.send(res, err.status, { code: err.code, message: err.message }, err.signed, tamper);
      } else {
        code = 'SYSTEM_ERROR';
        this.send(res, 500, { code: 'SYSTEM_ERROR', message: err instanceof Error ? err.message : String(err) }, false);
      }
    }
    this.calls.push({ method, path, status, code });
  }

  private send(res: ServerResponse, status: number, json: unknown, sign: boolean, tamper: AnswerTamper | null = null): void {
    const body = json === null ? '' : JSON.stringify(json);
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = 'application/json; charset=utf-8';
    if (sign && tamper !== 'unsigned') {
      Object.assign(
        headers,
        this.signedHeaders(body, {
          signature: tamper === 'bad_signature' ? 'wrong' : tamper === 'signtest' ? 'signtest' : 'valid',
          serial: tamper === 'wrong_serial' ? 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' : undefined,
          timestampOffsetMs: tamper === 'stale' ? -10 * 60_000 : 0,
        }),
      );
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  /** WECHATPAY2-SHA256-RSA2048 with our merchant key, checked by the SDK's Rsa.verify over Formatter.request. */
  private authenticate(req: IncomingMessage, method: string, path: string, body: string): void {
    const fail = (why: string) => new ApiError(401, 'SIGN_ERROR', why, false);
    const header = req.headers.authorization;
    const m = header ? /^WECHATPAY2-SHA256-RSA2048 (.+)$/.exec(header) : null;
    if (!m) throw fail('missing or unknown Authorization schema');
    const params = new Map<string, string>();
    for (const part of m[1]!.split(',')) {
      const kv = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
      if (!kv) throw fail('malformed Authorization parameter');
      params.set(kv[1]!, kv[2]!);
    }
    const [mchid, nonce, signature, timestamp, serial] = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'].map((k) => params.get(k));
    if (!mchid || !nonce || !signature || !timestamp || !serial) throw fail('Authorization lacks mchid, nonce_str, signature, timestamp or serial_no');
    if (mchid !== this.opts.mchid) throw fail('mchid is not this merchant');
    if (serial !== this.opts.merchantSerial) throw fail('serial_no is not the merchant certificate serial');
    if (!/^\d{1,12}$/.test(timestamp) || Math.abs(Math.floor(this.now() / 1000) - Number(timestamp)) > MAX_SKEW_S) throw fail('timestamp expired or invalid');
    if (!Rsa.verify(Formatter.request(method, path, timestamp, nonce, body), signature, this.merchantKey)) throw fail('signature does not verify');
    if (!/application\/json/.test(req.headers.accept ?? '')) throw new ApiError(400, 'PARAM_ERROR', 'Accept must be application/json');
    if (!req.headers['user-agent']) throw new ApiError(400, 'PARAM_ERROR', 'User-Agent is required');
    if (method === 'POST' && !/^application\/json/.test(req.headers['content-type'] ?? ''))
      throw new ApiError(400, 'PARAM_ERROR', 'Content-Type must be application/json');
  }

  private route(method: string, path: string, raw: string): { status: number; json: unknown } {
    const url = new URL(path, 'http://emulator');
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (method === 'POST' && p === '/v3/pay/transactions/native') return this.create(parseJson(raw), 'NATIVE');
    if (method === 'POST' && p === '/v3/pay/transactions/jsapi') return this.create(parseJson(raw), 'JSAPI');
    if (method === 'POST' && p === '/v3/pay/transactions/h5') return this.create(parseJson(raw), 'MWEB');
    if (method === 'GET' && (m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(p)))
      return this.query(decodeURIComponent(m[1]!), url.searchParams.get('mchid'));
    if (method === 'POST' && (m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(p)))
      return this.closeOrder(decodeURIComponent(m[1]!), parseJson(raw));
    if (method === 'POST' && p === '/v3/refund/domestic/refunds') return this.refund(parseJson(raw));
    if (method === 'GET' && (m = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(p))) return this.refundQuery(decodeURIComponent(m[1]!));
    throw new ApiError(404, 'NOT_FOUND', `no such API: ${method} ${p}`);
  }

  private create(b: Record<string, unknown>, tradeType: NonNullable<EmulatedOrder['tradeType']>): { status: number; json: unknown } {
    if (b.mchid !== this.opts.mchid) throw new ApiError(400, 'MCH_NOT_EXISTS', 'mchid does not match the requesting merchant');
    if (b.appid !== this.opts.appid && !(tradeType === 'JSAPI' && this.opts.mpAppid && b.appid === this.opts.mpAppid))
      throw new ApiError(400, 'APPID_MCHID_NOT_MATCH', 'appid is not bound to this mchid');
    // JSAPI: payer.openid is required (the openid under that appid). H5: scene_info.payer_client_ip and h5_info.type are.
    let payerOpenid: string | null = null;
    let payerClientIp: string | null = null;
    if (tradeType === 'JSAPI') {
      const payer = b.payer as { openid?: unknown } | undefined;
      if (!payer || typeof payer !== 'object' || typeof payer.openid !== 'string' || !/^[A-Za-z0-9_-]{6,128}$/.test(payer.openid))
        throw new ApiError(400, 'PARAM_ERROR', 'payer.openid is required');
      payerOpenid = payer.openid;
    }
    if (tradeType === 'MWEB') {
      const scene = b.scene_info as { payer_client_ip?: unknown; h5_info?: { type?: unknown } } | undefined;
      if (!scene || typeof scene !== 'object' || typeof scene.payer_client_ip !== 'string' || isIP(scene.payer_client_ip) === 0)
        throw new ApiError(400, 'PARAM_ERROR', 'scene_info.payer_client_ip must be the payer IP address');
      if (!scene.h5_info || typeof scene.h5_info !== 'object' || !['Wap', 'iOS', 'Android'].includes(scene.h5_info.type as string))
        throw new ApiError(400, 'PARAM_ERROR', 'scene_info.h5_info.type must be Wap, iOS or Android');
      payerClientIp = scene.payer_client_ip;
    }
    if (typeof b.description !== 'string' || b.description.length === 0 || Buffer.byteLength(b.description) > 127)
      throw new ApiError(400, 'PARAM_ERROR', 'description must be 1–127 bytes');
    if (typeof b.out_trade_no !== 'string' || !OUT_TRADE_NO.test(b.out_trade_no))
      throw new ApiError(400, 'PARAM_ERROR', 'out_trade_no must be 6–32 of [0-9A-Za-z_-*|]');
    let expireAt: number | null = null;
    if (b.time_expire !== undefined) {
      if (typeof b.time_expire !== 'string' || !RFC3339_OFFSET.test(b.time_expire))
        throw new ApiError(400, 'PARAM_ERROR', 'time_expire must be RFC 3339 with an offset');
      expireAt = Date.parse(b.time_expire);
      if (!(expireAt > this.now())) throw new ApiError(400, 'PARAM_ERROR', 'time_expire is in the past');
    }
    const notifyUrl = checkNotifyUrl(b.notify_url, true)!;
    const amount = b.amount as { total?: unknown; currency?: unknown } | undefined;
    if (!amount || typeof amount !== 'object' || !Number.isSafeInteger(amount.total) || (amount.total as number) < 1)
      throw new ApiError(400, 'PARAM_ERROR', 'amount.total must be a positive integer number of fen');
    if (amount.currency !== undefined && amount.currency !== 'CNY') throw new ApiError(400, 'PARAM_ERROR', 'amount.currency must be CNY');

    const existing = this.orders.get(b.out_trade_no);
    if (existing) {
      const same =
        existing.total === amount.total &&
        existing.description === b.description &&
        existing.notifyUrl === notifyUrl &&
        (existing.tradeType ?? 'NATIVE') === tradeType;
      if (!same || existing.state !== 'NOTPAY')
        throw new ApiError(400, 'INVALID_REQUEST', 'out_trade_no already used with other parameters or no longer payable');
      return { status: 200, json: this.prepayAnswer(existing) };
    }
    const prepayId = `wx${digits(12)}${randomBytes(12).toString('hex')}`;
    const o: EmulatedOrder = {
      appid: b.appid as string,
      mchid: b.mchid as string,
      description: b.description,
      outTradeNo: b.out_trade_no,
      timeExpire: (b.time_expire as string | undefined) ?? null,
      expireAt,
      notifyUrl,
      total: amount.total as number,
      currency: 'CNY',
      codeUrl: `weixin://wxpay/bizpayurl?pr=${randomBytes(6).toString('base64url')}`,
      tradeType,
      prepayId: tradeType === 'NATIVE' ? null : prepayId,
      h5Url: tradeType === 'MWEB' ? `${this.url}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${prepayId}&package=${digits(10)}` : null,
      payerOpenid,
      payerClientIp,
      state: 'NOTPAY',
      transactionId: null,
      successTime: null,
      createdAt: this.now(),
    };
    this.orders.set(o.outTradeNo, o);
    return { status: 200, json: this.prepayAnswer(o) };
  }

  private prepayAnswer(o: EmulatedOrder): unknown {
    if (o.tradeType === 'JSAPI') return { prepay_id: o.prepayId };
    if (o.tradeType === 'MWEB') return { h5_url: o.h5Url };
    return { code_url: o.codeUrl };
  }

  /** The order a JSAPI prepay_id belongs to. */
  byPrepayId(prepayId: string): EmulatedOrder | undefined {
    return [...this.orders.values()].find((o) => o.prepayId === prepayId);
  }

  /**
   * What WeChat's cashier does with getBrandWCPayRequest's arguments: paySign must verify with the merchant's
   * public key (the SDK's Rsa.verify over appId\ntimeStamp\nnonceStr\npackage\n), signType RSA, the appId the
   * prepay was made under, and a live prepay_id. Then the payer pays: the TRANSACTION.SUCCESS notification.
   */
  jsapiPay(params: { appId: string; timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string }): EmulatedNotification {
    if (params.signType !== 'RSA') throw new Error('emulator: signType must be RSA');
    if (!/^\d{10}$/.test(params.timeStamp)) throw new Error('emulator: timeStamp must be seconds');
    if (!params.nonceStr || params.nonceStr.length > 32) throw new Error('emulator: nonceStr must be 1–32 characters');
    const message = Formatter.joinedByLineFeed(params.appId, params.timeStamp, params.nonceStr, params.package);
    if (!Rsa.verify(message, params.paySign, this.merchantKey)) throw new Error('emulator: paySign does not verify with the merchant key');
    const m = /^prepay_id=(.+)$/.exec(params.package);
    const o = m ? this.byPrepayId(m[1]!) : undefined;
    if (!o || o.tradeType !== 'JSAPI') throw new Error('emulator: package names no JSAPI prepay');
    if (o.appid !== params.appId) throw new Error('emulator: appId is not the one the prepay was made under');
    return this.pay(o.outTradeNo);
  }

  private query(outTradeNo: string, mchid: string | null): { status: number; json: unknown } {
    if (mchid !== this.opts.mchid) throw new ApiError(400, 'PARAM_ERROR', 'mchid query parameter is required and must be this merchant');
    const o = this.orders.get(outTradeNo);
    if (!o) throw new ApiError(404, 'ORDER_NOT_EXIST', 'order does not exist');
    return { status: 200, json: this.transactionJson(o) };
  }

  private closeOrder(outTradeNo: string, b: Record<string, unknown>): { status: number; json: unknown } {
    if (b.mchid !== this.opts.mchid) throw new ApiError(400, 'PARAM_ERROR', 'mchid must be this merchant');
    const o = this.orders.get(outTradeNo);
    if (!o) throw new ApiError(404, 'ORDER_NOT_EXIST', 'order does not exist');
    if (o.state === 'SUCCESS' || o.state === 'REFUND') throw new ApiError(400, 'ORDERPAID', 'order has been paid');
    o.state = 'CLOSED';
    return { status: 204, json: null };
  }

  private refund(b: Record<string, unknown>): { status: number; json: unknown } {
    if (typeof b.out_refund_no !== 'string' || !OUT_REFUND_NO.test(b.out_refund_no))
      throw new ApiError(400, 'PARAM_ERROR', 'out_refund_no must be 1–64 of [0-9A-Za-z_-|*@]');
    const o =
      typeof b.out_trade_no === 'string'
        ? this.orders.get(b.out_trade_no)
        : typeof b.transaction_id === 'string'
          ? [...this.orders.values()].find((x) => x.transactionId === b.transaction_id)
          : undefined;
    if (!o) throw new ApiError(404, 'RESOURCE_NOT_EXISTS', 'order does not exist');
    if (b.reason !== undefined && (typeof b.reason !== 'string' || Buffer.byteLength(b.reason) > 80))
      throw new ApiError(400, 'PARAM_ERROR', 'reason must be at most 80 bytes');
    const notifyUrl = checkNotifyUrl(b.notify_url, false);
    const amount = b.amount as { refund?: unknown; total?: unknown; currency?: unknown } | undefined;
    if (!amount || typeof amount !== 'object' || !Number.isSafeInteger(amount.refund) || (amount.refund as number) < 1)
      throw new ApiError(400, 'PARAM_ERROR', 'amount.refund must be a positive integer');
    if (amount.total !== o.total) throw new ApiError(400, 'PARAM_ERROR', 'amount.total does not match the order total');
    if (amount.currency !== 'CNY') throw new ApiError(400, 'PARAM_ERROR', 'amount.currency must be CNY');

    const existing = this.refunds.get(b.out_refund_no);
    if (existing) {
      if (existing.outTradeNo !== o.outTradeNo || existing.refund !== amount.refund)
        throw new ApiError(400, 'INVALID_REQUEST', 'out_refund_no already used with other parameters');
      return { status: 200, json: this.refundJson(existing) };
    }
    if (o.state !== 'SUCCESS' && o.state !== 'REFUND') throw new ApiError(400, 'INVALID_REQUEST', `order is ${o.state}, not paid`);
    const refunded = [...this.refunds.values()]
      .filter((r) => r.outTradeNo === o.outTradeNo && r.status !== 'CLOSED' && r.status !== 'ABNORMAL')
      .reduce((s, r) => s + r.refund, 0);
    if (refunded + (amount.refund as number) > o.total) throw new ApiError(400, 'INVALID_REQUEST', 'refund exceeds the refundable amount');

    const r: EmulatedRefund = {
      outRefundNo: b.out_refund_no,
      refundId: `50300${digits(25)}`,
      outTradeNo: o.outTradeNo,
      transactionId: o.transactionId!,
      refund: amount.refund as number,
      total: o.total,
      currency: 'CNY',
      status: 'PROCESSING',
      reason: (b.reason as string | undefined) ?? null,
      notifyUrl,
      createTime: chinaTime(this.now()),
      successTime: null,
    };
    this.refunds.set(r.outRefundNo, r);
    o.state = 'REFUND';
    if (this.refundMode === 'success') this.completeRefund(r.outRefundNo);
    return { status: 200, json: this.refundJson(r) };
  }

  private refundQuery(outRefundNo: string): { status: number; json: unknown } {
    const r = this.refunds.get(outRefundNo);
    if (!r) throw new ApiError(404, 'RESOURCE_NOT_EXISTS', 'refund does not exist');
    return { status: 200, json: this.refundJson(r) };
  }

  // ------------------------------------------------------------------ wire shapes

  transactionJson(o: EmulatedOrder): Record<string, unknown> {
    const paid = o.transactionId !== null;
    return {
      appid: o.appid,
      mchid: o.mchid,
      out_trade_no: o.outTradeNo,
      ...(paid
        ? {
            transaction_id: o.transactionId,
            success_time: o.successTime,
            bank_type: 'OTHERS',
            payer: { openid: o.payerOpenid ?? 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
          }
        : {}),
      trade_type: o.tradeType ?? 'NATIVE',
      trade_state: o.state,
      trade_state_desc: {
        NOTPAY: '未支付',
        USERPAYING: '用户支付中',
        SUCCESS: '支付成功',
        CLOSED: '已关闭',
        REFUND: '转入退款',
        PAYERROR: '支付失败',
        REVOKED: '已撤销',
      }[o.state],
      attach: '',
      amount: paid ? { total: o.total, payer_total: o.total, currency: o.currency, payer_currency: o.currency } : { total: o.total, currency: o.currency },
    };
  }

  private refundJson(r: EmulatedRefund): Record<string, unknown> {
    return {
      refund_id: r.refundId,
      out_refund_no: r.outRefundNo,
      transaction_id: r.transactionId,
      out_trade_no: r.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(r.successTime ? { success_time: r.successTime } : {}),
      create_time: r.createTime,
      status: r.status,
      funds_account: 'AVAILABLE',
      amount: {
        total: r.total,
        refund: r.refund,
        payer_total: r.total,
        payer_refund: r.refund,
        settlement_refund: r.refund,
        settlement_total: r.total,
        discount_refund: 0,
        currency: r.currency,
        refund_fee: 0,
      },
    };
  }

  /** As the official sample: no currency in a refund notification's amount. */
  private refundNotificationJson(r: EmulatedRefund): Record<string, unknown> {
    return {
      mchid: this.opts.mchid,
      out_trade_no: r.outTradeNo,
      transaction_id: r.transactionId,
      out_refund_no: r.outRefundNo,
      refund_id: r.refundId,
      refund_status: r.status,
      ...(r.successTime ? { success_time: r.successTime } : {}),
      user_received_account: '支付用户零钱',
      amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
    };
  }
}

function parseJson(raw: string): Record<string, unknown> {
  try {
    const v = JSON.parse(raw) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiError(400, 'PARAM_ERROR', 'body must be a JSON object');
}

/** https, no query; plain http only to a loopback address (tests). */
function checkNotifyUrl(v: unknown, required: boolean): string | null {
  if (v === undefined && !required) return null;
  if (typeof v !== 'string' || v.length > 255) throw new ApiError(400, 'PARAM_ERROR', 'notify_url must be a URL of at most 255 characters');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ApiError(400, 'PARAM_ERROR', 'notify_url is not a URL');
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost';
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && loopback))) throw new ApiError(400, 'PARAM_ERROR', 'notify_url must be https');
  if (u.search || u.hash) throw new ApiError(400, 'PARAM_ERROR', 'notify_url must not carry parameters');
  return v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, 'PARAM_ERROR', 'body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// ------------------------------------------------------------------ test keys

export interface WechatPayTestKeys {
  dir: string;
  mchid: string;
  appid: string;
  merchantSerial: string;
  merchantPrivateKeyPem: string;
  merchantPublicKeyPem: string;
  merchantPrivateKeyPath: string;
  platformSerial: string;
  platformPrivateKeyPem: string;
  platformPublicKeyPem: string;
  platformPublicKeyPath: string;
  apiV3Key: string;
  /** The service's WECHATPAY_* environment for this key set, talking to `apiBase`. */
  env(apiBase: string): Record<string, string>;
  emulatorOptions(now: () => number): WechatPayEmulatorOptions;
  cleanup(): void;
}

/** Fresh RSA-2048 merchant and platform key pairs in a temp dir (PEM files, as the service reads them). */
export function makeWechatPayTestKeys(): WechatPayTestKeys {
  const dir = mkdtempSync(join(tmpdir(), 'gk-wxpay-'));
  const pair = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
  const merchant = pair();
  const platform = pair();
  const merchantPrivateKeyPath = join(dir, 'apiclient_key.pem');
  const platformPublicKeyPath = join(dir, 'wechatpay_pub.pem');
  writeFileSync(merchantPrivateKeyPath, merchant.privateKey, { mode: 0o600 });
  writeFileSync(platformPublicKeyPath, platform.publicKey);
  const keys: WechatPayTestKeys = {
    dir,
    mchid: '1900000109',
    appid: 'wxd678efh567hg6787',
    merchantSerial: randomBytes(20).toString('hex').toUpperCase(),
    merchantPrivateKeyPem: merchant.privateKey,
    merchantPublicKeyPem: merchant.publicKey,
    merchantPrivateKeyPath,
    platformSerial: `PUB_KEY_ID_0119000010920${digits(14)}`,
    platformPrivateKeyPem: platform.privateKey,
    platformPublicKeyPem: platform.publicKey,
    platformPublicKeyPath,
    apiV3Key: randomBytes(16).toString('hex'),
    env: (apiBase) => ({
      WECHATPAY_MCHID: keys.mchid,
      WECHATPAY_APPID: keys.appid,
      WECHATPAY_SERIAL: keys.merchantSerial,
      WECHATPAY_PRIVATE_KEY: merchantPrivateKeyPath,
      WECHATPAY_APIV3_KEY: keys.apiV3Key,
      WECHATPAY_PLATFORM_PUBLIC_KEY: platformPublicKeyPath,
      WECHATPAY_PLATFORM_SERIAL: keys.platformSerial,
      WECHATPAY_API_BASE: apiBase,
    }),
    emulatorOptions: (now) => ({
      mchid: keys.mchid,
      appid: keys.appid,
      merchantSerial: keys.merchantSerial,
      merchantPublicKeyPem: keys.merchantPublicKeyPem,
      platformSerial: keys.platformSerial,
      platformPrivateKeyPem: keys.platformPrivateKeyPem,
      apiV3Key: keys.apiV3Key,
      now,
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return keys;
}
