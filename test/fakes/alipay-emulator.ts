// A strict loopback Alipay (OpenAPI 2.0 gateway.do) for tests: a real HTTP server on 127.0.0.1 that
//   - checks every request's RSA2 signature with the app's public key (bad → 40002 isv.invalid-signature),
//     and the common parameters (app_id, method, charset, sign_type, timestamp, version, biz_content);
//   - keeps trades: precreate reserves a QR; the trade exists once the buyer scans; pay, finish, close,
//     refund (idempotent per out_request_no), time-outs from timeout_express on the injected clock;
//   - answers in the real format, `{"<method>_response":{…},"sign":"…"}`, signing the exact node text with
//     its own Alipay private key (and escaping "/" as Alipay does, so re-serializing breaks the signature);
//   - builds signed form-encoded notifications and delivers them to the notify_url: once, twice, SUCCESS then
//     FINISHED, out of order, late, or never;
//   - can be switched to reset connections, answer 5xx, hang, answer unsigned or badly signed, or give a
//     scripted business answer to the next call of a method.
// Its crypto is written here with node:crypto on purpose: it shares no code with src/payments/alipay.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as rsaSign, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';

export interface EmulatedRefund {
  outRequestNo: string;
  fen: number;
  at: number;
  settled: boolean;
}

export interface EmulatedTrade {
  outTradeNo: string;
  totalFen: number;
  subject: string;
  notifyUrl: string | null;
  qrCode: string;
  sellerId: string;
  precreatedAt: number;
  /** When the QR / unpaid trade dies (timeout_express from precreate). */
  expiresAt: number;
  /** null until the buyer scans: the trade does not exist at Alipay before that. */
  status: TradeStatus | null;
  /** Closed by the merchant before anyone scanned: the QR no longer works, query still says not exist. */
  locked: boolean;
  tradeNo: string;
  buyerId: string;
  gmtCreate: number | null;
  gmtPayment: number | null;
  gmtClose: number | null;
  refunds: Map<string, EmulatedRefund>;
  /** alipay.trade.wap.pay: where the cashier sends the buyer back after paying, and on giving up. */
  returnUrl?: string;
  quitUrl?: string;
}

export type Fault = 'reset' | 'http500' | 'hang' | 'unsigned' | 'badsign';

export interface ScriptedAnswer {
  code: string;
  msg: string;
  sub_code?: string;
  sub_msg?: string;
}

export interface Delivery {
  notifyId: string;
  tradeStatus: string;
  url: string;
  status: number;
  contentType: string | null;
  body: string;
  acknowledged: boolean;
}

export type DeliveryPlan = 'once' | 'twice' | 'success-then-finished' | 'finished-then-success' | 'never';

export interface AlipayEmulatorOptions {
  appId: string;
  /** Our app's public key: every request must verify with it. */
  appPublicKeyPem: string;
  /** The emulator's "Alipay private key": signs answers and notifications. */
  alipayPrivateKeyPem: string;
  sellerId?: string;
  clock?: { now(): number };
  /** When set, a request timestamp further than this from the clock is refused (isv.invalid-timestamp). */
  maxSkewMs?: number;
  /** Where notifications really go (e.g. PUBLIC_URL → the test server's address); defaults to unchanged. */
  rewriteNotifyUrl?: (notifyUrl: string) => string;
}

const SHANGHAI_MS = 8 * 3600 * 1000;
const KNOWN_METHODS = new Set([
  'alipay.trade.precreate',
  'alipay.trade.query',
  'alipay.trade.close',
  'alipay.trade.refund',
  'alipay.trade.fastpay.refund.query',
  'alipay.trade.wap.pay',
]);
const MSG: Record<string, string> = {
  '10000': 'Success',
  '20000': 'Service Currently Unavailable',
  '40001': 'Missing Required Arguments',
  '40002': 'Invalid Arguments',
  '40004': 'Business Failed',
};

/** Beijing time, "yyyy-MM-dd HH:mm:ss". */
export function beijing(ms: number, withMillis = false): string {
  const iso = new Date(ms + SHANGHAI_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withMillis ? 23 : 19)}`;
}

/** "9.90" for 990 fen. */
export function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** A fresh RSA-2048 key pair as PEM (PKCS#8 private, SPKI public). */
export function rsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface AlipayTestKeys {
  appId: string;
  sellerId: string;
  /** Our app's key pair (we sign with the private key, the emulator verifies with the public one). */
  app: { privateKeyPem: string; publicKeyPem: string; privateKeyPath: string; publicKeyPath: string };
  /** The emulator's "Alipay" key pair (it signs, we verify with the public one). */
  alipay: { privateKeyPem: string; publicKeyPem: string; privateKeyPath: string; publicKeyPath: string };
  dir: string;
  cleanup(): void;
}

/** Fresh key pairs for both sides, written as PEM files into a temp dir (config reads key paths). */
export function alipayTestKeys(appId = '2021000000000001', sellerId = '2088102146225135'): AlipayTestKeys {
  const dir = mkdtempSync(join(tmpdir(), 'gk-alipay-'));
  const write = (name: string, pem: string) => {
    const path = join(dir, name);
    writeFileSync(path, pem, { mode: 0o600 });
    return path;
  };
  const app = rsaKeyPair();
  const alipay = rsaKeyPair();
  return {
    appId,
    sellerId,
    app: { ...app, privateKeyPath: write('app-private.pem', app.privateKeyPem), publicKeyPath: write('app-public.pem', app.publicKeyPem) },
    alipay: { ...alipay, privateKeyPath: write('alipay-private.pem', alipay.privateKeyPem), publicKeyPath: write('alipay-public.pem', alipay.publicKeyPem) },
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

class Answer {
  constructor(
    readonly code: string,
    readonly subCode?: string,
    readonly subMsg?: string,
  ) {}
}
const fail = (code: string, subCode: string, subMsg: string) => new Answer(code, subCode, subMsg);

export class AlipayEmulator {
  readonly trades = new Map<string, EmulatedTrade>();
  readonly requests: Array<{ method: string; params: Record<string, string>; answer: string }> = [];
  readonly deliveries: Delivery[] = [];
  fault: Fault | null = null;
  /** Defer refunds: accepted (fund_change N) but not settled until settleRefunds(). */
  deferRefunds = false;
  private readonly scripted = new Map<string, ScriptedAnswer[]>();
  private readonly appKey: KeyObject;
  private readonly alipayKey: KeyObject;
  private readonly strangerKey = createPrivateKey(rsaKeyPair().privateKeyPem);
  private seq = 0;
  private server!: Server;
  url = '';

  private constructor(private readonly opts: AlipayEmulatorOptions) {
    this.appKey = createPublicKey(opts.appPublicKeyPem);
    this.alipayKey = createPrivateKey(opts.alipayPrivateKeyPem);
  }

  static async start(opts: AlipayEmulatorOptions): Promise<AlipayEmulator> {
    const emu = new AlipayEmulator(opts);
    emu.server = createServer((req, res) => {
      emu.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end('emulator error');
      });
    });
    await new Promise<void>((resolve) => emu.server.listen(0, '127.0.0.1', resolve));
    emu.url = `http://127.0.0.1:${(emu.server.address() as AddressInfo).port}`;
    return emu;
  }

  get gatewayUrl(): string {
    return `${this.url}/gateway.do`;
  }

  get sellerId(): string {
    return this.opts.sellerId ?? '2088102146225135';
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private now(): number {
    return this.opts.clock?.now() ?? Date.now();
  }

  /** The next call of `method` gets this answer instead of its real one (signed, like any answer). */
  scriptNext(method: string, answer: ScriptedAnswer): void {
    const list = this.scripted.get(method) ?? [];
    list.push(answer);
    this.scripted.set(method, list);
  }

  callsOf(method: string) {
    return this.requests.filter((r) => r.method === method);
  }

  // ------------------------------------------------------------------ the buyer's side (test controls)

  trade(outTradeNo: string): EmulatedTrade {
    const t = this.trades.get(outTradeNo);
    if (!t) throw new Error(`emulator: no precreated trade ${outTradeNo}`);
    this.applyTimeout(t);
    return t;
  }

  /** The buyer scans the QR: the trade comes into existence, waiting for payment. */
  scan(outTradeNo: string): EmulatedTrade {
    const t = this.trade(outTradeNo);
    if (t.locked || t.status === 'TRADE_CLOSED') throw new Error('emulator: this QR is closed');
    if (t.status === null) {
      if (this.now() > t.expiresAt) throw new Error('emulator: this QR has expired');
      t.status = 'WAIT_BUYER_PAY';
      t.gmtCreate = this.now();
    }
    return t;
  }

  /** The buyer pays (scanning first if needed). No notification is sent: see deliver / payAndNotify. */
  pay(outTradeNo: string): EmulatedTrade {
    const t = this.scan(outTradeNo);
    if (t.status !== 'WAIT_BUYER_PAY') throw new Error(`emulator: cannot pay a trade in ${t.status}`);
    t.status = 'TRADE_SUCCESS';
    t.gmtPayment = this.now();
    return t;
  }

  /** The refund window ends: TRADE_SUCCESS → TRADE_FINISHED. */
  finish(outTradeNo: string): EmulatedTrade {
    const t = this.trade(outTradeNo);
    if (t.status !== 'TRADE_SUCCESS') throw new Error(`emulator: cannot finish a trade in ${t.status}`);
    t.status = 'TRADE_FINISHED';
    return t;
  }

  settleRefunds(): void {
    for (const t of this.trades.values()) for (const r of t.refunds.values()) r.settled = true;
  }

  /** Pays and delivers notifications as planned; returns the deliveries made. */
  async payAndNotify(outTradeNo: string, plan: DeliveryPlan = 'once'): Promise<Delivery[]> {
    this.pay(outTradeNo);
    switch (plan) {
      case 'never':
        return [];
      case 'once':
        return [await this.deliver(outTradeNo)];
      case 'twice': {
        // A resend keeps its notify_id.
        const first = await this.deliver(outTradeNo);
        return [first, await this.deliver(outTradeNo, { notifyId: first.notifyId })];
      }
      case 'success-then-finished': {
        const first = await this.deliver(outTradeNo);
        this.finish(outTradeNo);
        return [first, await this.deliver(outTradeNo)];
      }
      case 'finished-then-success': {
        // Out of order: the later notification overtakes the earlier one.
        const success = this.notification(outTradeNo);
        this.finish(outTradeNo);
        const finished = await this.deliver(outTradeNo);
        return [finished, await this.post(outTradeNo, success)];
      }
    }
  }

  /**
   * A signed notification for the trade's current state. `fields` are set before signing (a genuine but
   * unexpected notification); `refund` adds the refund fields of that out_request_no.
   */
  notification(
    outTradeNo: string,
    o: { notifyId?: string; status?: TradeStatus; fields?: Record<string, string | undefined>; refund?: string } = {},
  ): { params: Record<string, string>; body: string } {
    const t = this.trade(outTradeNo);
    const status = o.status ?? t.status;
    if (!status) throw new Error('emulator: nobody scanned this trade, there is nothing to notify');
    const now = this.now();
    const p: Record<string, string | undefined> = {
      gmt_create: t.gmtCreate === null ? undefined : beijing(t.gmtCreate),
      charset: 'utf-8',
      seller_email: 'merchant@example.com',
      subject: t.subject,
      buyer_id: t.buyerId,
      invoice_amount: yuan(t.totalFen),
      notify_id: o.notifyId ?? `2026${randomBytes(14).toString('hex')}`,
      fund_bill_list: JSON.stringify([{ amount: yuan(t.totalFen), fundChannel: 'ALIPAYACCOUNT' }]),
      notify_type: 'trade_status_sync',
      trade_status: status,
      receipt_amount: yuan(t.totalFen),
      buyer_pay_amount: yuan(t.totalFen),
      app_id: this.opts.appId,
      seller_id: t.sellerId,
      gmt_payment: t.gmtPayment === null ? undefined : beijing(t.gmtPayment),
      gmt_close: t.gmtClose === null ? undefined : beijing(t.gmtClose),
      notify_time: beijing(now),
      version: '1.0',
      out_trade_no: t.outTradeNo,
      total_amount: yuan(t.totalFen),
      trade_no: t.tradeNo,
      auth_app_id: this.opts.appId,
      buyer_logon_id: '159****5620',
      point_amount: '0.00',
    };
    if (o.refund !== undefined) {
      const r = t.refunds.get(o.refund);
      if (!r) throw new Error(`emulator: no refund ${o.refund}`);
      p.refund_fee = yuan(this.refundedFen(t));
      p.gmt_refund = beijing(r.at, true);
      p.out_biz_no = r.outRequestNo;
    }
    Object.assign(p, o.fields ?? {});
    const params = Object.fromEntries(Object.entries(p).filter((e): e is [string, string] => e[1] !== undefined));
    // Alipay signs a notification without sign_type (that is why receivers drop both).
    const content = Object.keys(params)
      .filter((k) => params[k] !== '')
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join('&');
    params.sign = rsaSign('sha256', Buffer.from(content, 'utf8'), this.alipayKey).toString('base64');
    params.sign_type = 'RSA2';
    return { params, body: new URLSearchParams(params).toString() };
  }

  /** Builds a notification and POSTs it to the trade's notify_url (through rewriteNotifyUrl). */
  async deliver(outTradeNo: string, o: Parameters<AlipayEmulator['notification']>[1] = {}): Promise<Delivery> {
    return this.post(outTradeNo, this.notification(outTradeNo, o));
  }

  private async post(outTradeNo: string, n: { params: Record<string, string>; body: string }): Promise<Delivery> {
    const t = this.trade(outTradeNo);
    if (!t.notifyUrl) throw new Error('emulator: the trade was created without notify_url');
    const url = this.opts.rewriteNotifyUrl ? this.opts.rewriteNotifyUrl(t.notifyUrl) : t.notifyUrl;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: n.body,
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    const d: Delivery = {
      notifyId: n.params.notify_id!,
      tradeStatus: n.params.trade_status!,
      url,
      status: res.status,
      contentType: res.headers.get('content-type'),
      body,
      acknowledged: body === 'success',
    };
    this.deliveries.push(d);
    return d;
  }

  // ------------------------------------------------------------------ gateway.do

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (this.fault === 'hang') return; // never answers; close() cuts it
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > 1 << 20) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(c);
    }
    if (this.fault === 'http500') {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
      return;
    }
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname !== '/gateway.do' || (req.method !== 'POST' && req.method !== 'GET')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    const body = Buffer.concat(chunks).toString('utf8');
    if (body.length > 0) {
      if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? ''))
        return this.reply(res, 'error_response', new Answer('40002', 'isv.invalid-parameter', 'body must be form-urlencoded'), false);
      for (const [k, v] of new URLSearchParams(body)) {
        if (Object.hasOwn(params, k) && params[k] !== v)
          return this.reply(res, 'error_response', new Answer('40002', 'isv.invalid-parameter', `${k} given twice`), false);
        params[k] = v;
      }
    }
    const method = params.method ?? '';
    let key = 'error_response';
    let answer: Answer | Record<string, string>;
    let signed = true;
    if (!params.app_id) [answer, signed] = [fail('40001', 'isv.missing-app-id', '缺少AppID参数'), false];
    else if (params.app_id !== this.opts.appId) [answer, signed] = [fail('40002', 'isv.invalid-app-id', '无效的AppID参数'), false];
    else if (!method) [answer, signed] = [fail('40001', 'isv.missing-method', '缺少方法名参数'), false];
    else if (!KNOWN_METHODS.has(method)) [answer, signed] = [fail('40002', 'isv.invalid-method', '不存在的方法名'), false];
    else {
      key = `${method.replaceAll('.', '_')}_response`;
      answer = this.common(params) ?? this.business(method, params);
    }
    // alipay.trade.wap.pay is a page the browser opens (issue 21): Alipay's cashier, or its error page.
    if (method === 'alipay.trade.wap.pay') {
      this.requests.push({ method, params, answer: answer instanceof Answer ? `${answer.code} ${answer.subCode ?? ''}`.trim() : '10000' });
      const text = !(answer instanceof Answer)
        ? `<title>支付宝 收银台</title><h1 data-testid="alipay-cashier" data-out-trade-no="${esc(answer.out_trade_no ?? '')}">${esc(answer.total_amount ?? '')}</h1>`
        : `<title>支付宝 错误</title><p data-testid="alipay-error">${esc(`${answer.code} ${answer.subCode ?? ''} ${answer.subMsg ?? ''}`)}</p>`;
      res.writeHead(answer instanceof Answer ? 400 : 200, { 'content-type': 'text/html;charset=utf-8' }).end(`<!doctype html><meta charset="utf-8">${text}`);
      return;
    }
    const scripted = signed && this.scripted.get(method)?.shift();
    this.requests.push({
      method,
      params,
      answer: scripted ? scripted.code : answer instanceof Answer ? `${answer.code} ${answer.subCode ?? ''}`.trim() : '10000',
    });
    if (scripted) return this.reply(res, key, new Answer(scripted.code, scripted.sub_code, scripted.sub_msg), true, scripted.msg);
    this.reply(res, key, answer, signed);
  }

  /** Common parameters and the request signature. */
  private common(p: Record<string, string>): Answer | null {
    if (!p.charset) return fail('40001', 'isv.missing-charset', '缺少编码参数');
    if (p.charset.toLowerCase() !== 'utf-8') return fail('40002', 'isv.invalid-charset', '字符集错误');
    if (p.format !== undefined && p.format.toUpperCase() !== 'JSON') return fail('40002', 'isv.invalid-format', '无效的数据格式');
    if (!p.sign_type) return fail('40001', 'isv.missing-signature-type', '缺少签名类型参数');
    if (p.sign_type !== 'RSA2') return fail('40002', 'isv.invalid-signature-type', '无效的签名类型');
    if (!p.timestamp) return fail('40001', 'isv.missing-timestamp', '缺少时间戳参数');
    const ts = parseBeijing(p.timestamp);
    if (ts === null) return fail('40002', 'isv.invalid-timestamp', '非法的时间戳参数');
    if (this.opts.maxSkewMs !== undefined && Math.abs(ts - this.now()) > this.opts.maxSkewMs)
      return fail('40002', 'isv.invalid-timestamp', '时间戳与网关时间相差太大');
    if (!p.version) return fail('40001', 'isv.missing-version', '缺少版本参数');
    if (p.version !== '1.0') return fail('40002', 'isv.invalid-parameter', '版本号错误');
    if (!p.sign) return fail('40001', 'isv.missing-signature', '缺少签名参数');
    const content = Object.keys(p)
      .filter((k) => k !== 'sign' && p[k] !== '')
      .sort()
      .map((k) => `${k}=${p[k]}`)
      .join('&');
    let ok: boolean;
    try {
      ok = rsaVerify('sha256', Buffer.from(content, 'utf8'), this.appKey, Buffer.from(p.sign, 'base64'));
    } catch {
      ok = false;
    }
    if (!ok)
      return fail(
        '40002',
        'isv.invalid-signature',
        `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content.slice(0, 200)}`,
      );
    if (!p.biz_content) return fail('40001', 'isv.missing-parameter', '缺少biz_content');
    return null;
  }

  private business(method: string, p: Record<string, string>): Answer | Record<string, string> {
    let biz: Record<string, unknown>;
    try {
      const parsed = JSON.parse(p.biz_content!) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      biz = parsed as Record<string, unknown>;
    } catch {
      return fail('40002', 'isv.invalid-parameter', 'biz_content 不是 JSON 对象');
    }
    const s = (k: string) => (typeof biz[k] === 'string' ? (biz[k] as string) : undefined);
    const outTradeNo = s('out_trade_no');
    if (!outTradeNo) return fail('40004', 'ACQ.INVALID_PARAMETER', '缺少 out_trade_no');
    switch (method) {
      case 'alipay.trade.precreate':
        return this.precreate(outTradeNo, biz, p.notify_url ?? null);
      case 'alipay.trade.wap.pay': {
        // Strict like the real cashier: the WAP product code, a quit_url and a return_url to send the buyer back to.
        if (biz.product_code !== 'QUICK_WAP_WAY') return fail('40004', 'ACQ.INVALID_PARAMETER', 'product_code 必须是 QUICK_WAP_WAY');
        for (const k of ['quit_url'] as const)
          if (typeof biz[k] !== 'string' || !/^https?:\/\//.test(biz[k] as string)) return fail('40002', 'isv.invalid-parameter', `${k} 无效`);
        if (!p.return_url || !/^https?:\/\//.test(p.return_url)) return fail('40002', 'isv.invalid-parameter', 'return_url 无效');
        const made = this.precreate(outTradeNo, biz, p.notify_url ?? null);
        if (made instanceof Answer) return made;
        const t = this.trades.get(outTradeNo)!;
        t.returnUrl = p.return_url;
        t.quitUrl = biz.quit_url as string;
        return { out_trade_no: outTradeNo, total_amount: yuan(t.totalFen) };
      }
      case 'alipay.trade.query': {
        const t = this.trades.get(outTradeNo);
        if (!t) return fail('40004', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        this.applyTimeout(t);
        if (t.status === null) return fail('40004', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        const node: Record<string, string> = {
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          buyer_logon_id: '159****5620',
          trade_status: t.status,
          total_amount: yuan(t.totalFen),
          buyer_user_id: t.buyerId,
        };
        if (t.gmtPayment !== null)
          Object.assign(node, {
            buyer_pay_amount: yuan(t.totalFen),
            receipt_amount: yuan(t.totalFen),
            invoice_amount: yuan(t.totalFen),
            point_amount: '0.00',
            send_pay_date: beijing(t.gmtPayment),
          });
        return node;
      }
      case 'alipay.trade.close': {
        const t = this.trades.get(outTradeNo);
        if (!t) return fail('40004', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        this.applyTimeout(t);
        if (t.status === null) {
          // Real Alipay: says "not exist" and yet the QR stops working.
          t.locked = true;
          return fail('40004', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        }
        if (t.status === 'TRADE_CLOSED') return { trade_no: t.tradeNo, out_trade_no: t.outTradeNo };
        if (t.status !== 'WAIT_BUYER_PAY') return fail('40004', 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        t.status = 'TRADE_CLOSED';
        t.gmtClose = this.now();
        return { trade_no: t.tradeNo, out_trade_no: t.outTradeNo };
      }
      case 'alipay.trade.refund':
        return this.refund(outTradeNo, biz);
      case 'alipay.trade.fastpay.refund.query': {
        const t = this.trades.get(outTradeNo);
        if (!t || t.status === null) return fail('40004', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
        const r = t.refunds.get(s('out_request_no') ?? outTradeNo);
        if (!r || !r.settled) return { trade_no: t.tradeNo, out_trade_no: t.outTradeNo };
        return {
          trade_no: t.tradeNo,
          out_trade_no: t.outTradeNo,
          out_request_no: r.outRequestNo,
          total_amount: yuan(t.totalFen),
          refund_amount: yuan(r.fen),
          refund_status: 'REFUND_SUCCESS',
          gmt_refund_pay: beijing(r.at),
        };
      }
    }
    return fail('40002', 'isv.invalid-method', '不存在的方法名');
  }

  private precreate(outTradeNo: string, biz: Record<string, unknown>, notifyUrl: string | null): Answer | Record<string, string> {
    const total = biz.total_amount;
    const subject = biz.subject;
    if (!/^[A-Za-z0-9_]{1,64}$/.test(outTradeNo)) return fail('40004', 'ACQ.INVALID_PARAMETER', 'out_trade_no 格式错误');
    if (typeof total !== 'string' || !/^\d+\.\d{2}$/.test(total)) return fail('40004', 'ACQ.INVALID_PARAMETER', 'total_amount 必须是两位小数的金额字符串');
    const fen = Number(total.replace('.', ''));
    if (fen < 1 || fen > 10_000_000_000) return fail('40004', 'ACQ.TOTAL_FEE_EXCEED', '订单金额超过限额');
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) return fail('40004', 'ACQ.INVALID_PARAMETER', 'subject 无效');
    const te = biz.timeout_express;
    let ttlMs = 120 * 60_000; // Alipay's default
    if (te !== undefined) {
      const m = typeof te === 'string' ? /^(\d{1,5})([mhd])$/.exec(te) : null;
      if (!m) return fail('40004', 'ACQ.INVALID_PARAMETER', 'timeout_express 格式错误');
      ttlMs = Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
      if (ttlMs < 60_000 || ttlMs > 15 * 86_400_000) return fail('40004', 'ACQ.INVALID_PARAMETER', 'timeout_express 超出范围');
    }
    const sellerId = typeof biz.seller_id === 'string' ? biz.seller_id : this.sellerId;
    if (sellerId !== this.sellerId) return fail('40004', 'ACQ.SELLER_NOT_MATCH', '卖家不匹配');
    if (notifyUrl !== null && !/^https?:\/\//.test(notifyUrl)) return fail('40002', 'isv.invalid-parameter', 'notify_url 无效');
    const existing = this.trades.get(outTradeNo);
    if (existing) {
      this.applyTimeout(existing);
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') return fail('40004', 'ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (existing.status === 'TRADE_CLOSED' || existing.locked) return fail('40004', 'ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (existing.totalFen !== fen || existing.subject !== subject) return fail('40004', 'ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      return { out_trade_no: outTradeNo, qr_code: existing.qrCode };
    }
    const now = this.now();
    const t: EmulatedTrade = {
      outTradeNo,
      totalFen: fen,
      subject,
      notifyUrl,
      qrCode: `https://qr.alipay.com/bax0${randomBytes(10).toString('hex')}`,
      sellerId,
      precreatedAt: now,
      expiresAt: now + ttlMs,
      status: null,
      locked: false,
      tradeNo: `${beijing(now).slice(0, 10).replaceAll('-', '')}22001${String(++this.seq).padStart(6, '0')}${randomBytes(4).toString('hex')}`,
      buyerId: '2088102177846880',
      gmtCreate: null,
      gmtPayment: null,
      gmtClose: null,
      refunds: new Map(),
    };
    this.trades.set(outTradeNo, t);
    return { out_trade_no: outTradeNo, qr_code: t.qrCode };
  }

  private refund(outTradeNo: string, biz: Record<string, unknown>): Answer | Record<string, string> {
    const t = this.trades.get(outTradeNo);
    if (!t || t.status === null) return fail('40004', 'ACQ.TRADE_NOT_EXIST', '交易不存在');
    this.applyTimeout(t);
    const outRequestNo = typeof biz.out_request_no === 'string' && biz.out_request_no !== '' ? biz.out_request_no : outTradeNo;
    const amount = biz.refund_amount;
    const m = typeof amount === 'string' ? /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(amount) : null;
    const fen = m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : NaN;
    if (!Number.isSafeInteger(fen) || fen <= 0) return fail('40004', 'ACQ.INVALID_PARAMETER', 'refund_amount 无效');
    const answer = (change: 'Y' | 'N', at: number) => ({
      trade_no: t.tradeNo,
      out_trade_no: t.outTradeNo,
      buyer_logon_id: '159****5620',
      fund_change: change,
      refund_fee: yuan(this.refundedFen(t)),
      gmt_refund_pay: beijing(at),
      buyer_user_id: t.buyerId,
    });
    const earlier = t.refunds.get(outRequestNo);
    if (earlier) {
      // Idempotent per out_request_no: the same request again refunds nothing more.
      if (earlier.fen !== fen) return fail('40004', 'ACQ.REQUEST_AMOUNT_EXCEED', '同一退款请求号金额不一致');
      return answer('N', earlier.at);
    }
    if (t.status === 'TRADE_CLOSED') return fail('40004', 'ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
    if (t.status === 'TRADE_FINISHED') return fail('40004', 'ACQ.TRADE_NOT_ALLOW_REFUND', '当前交易不允许退款');
    if (t.status !== 'TRADE_SUCCESS') return fail('40004', 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    if (this.refundedFen(t) + fen > t.totalFen) return fail('40004', 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
    const at = this.now();
    t.refunds.set(outRequestNo, { outRequestNo, fen, at, settled: !this.deferRefunds });
    if (this.refundedFen(t) === t.totalFen) {
      t.status = 'TRADE_CLOSED';
      t.gmtClose = at;
    }
    return answer(this.deferRefunds ? 'N' : 'Y', at);
  }

  /**
   * The merchant refunds part (or all) of a trade in Alipay's merchant console (商家中心), not through our
   * API call: same rules as alipay.trade.refund. Returns the refund's out_request_no (for notification()).
   */
  merchantRefund(outTradeNo: string, fen: number): string {
    const outRequestNo = `hz${randomBytes(8).toString('hex')}`;
    const answer = this.refund(outTradeNo, { out_request_no: outRequestNo, refund_amount: yuan(fen) });
    if (!('fund_change' in answer)) throw new Error(`emulator: Alipay refused the refund of ${fen} fen: ${JSON.stringify(answer)}`);
    return outRequestNo;
  }

  private refundedFen(t: EmulatedTrade): number {
    let sum = 0;
    for (const r of t.refunds.values()) sum += r.fen;
    return sum;
  }

  /** An unpaid trade past its time closes by itself (lazily, on the injected clock). */
  private applyTimeout(t: EmulatedTrade): void {
    if (t.status === 'WAIT_BUYER_PAY' && this.now() > t.expiresAt) {
      t.status = 'TRADE_CLOSED';
      t.gmtClose = t.expiresAt;
    }
  }

  private reply(res: ServerResponse, key: string, answer: Answer | Record<string, string>, signed: boolean, msg?: string): void {
    const node: Record<string, string> =
      answer instanceof Answer
        ? {
            code: answer.code,
            msg: msg ?? MSG[answer.code] ?? 'Error',
            ...(answer.subCode ? { sub_code: answer.subCode } : {}),
            ...(answer.subMsg ? { sub_msg: answer.subMsg } : {}),
          }
        : { code: '10000', msg: 'Success', ...answer };
    // Alipay's JSON escapes "/" as "\/": the signature covers exactly this text.
    const nodeText = JSON.stringify(node).replaceAll('/', '\\/');
    let body = `{"${key}":${nodeText}`;
    if (signed && this.fault !== 'unsigned') {
      const signer = this.fault === 'badsign' ? this.strangerKey : this.alipayKey;
      body += `,"sign":"${rsaSign('sha256', Buffer.from(nodeText, 'utf8'), signer).toString('base64')}"`;
    }
    body += '}';
    res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' }).end(body);
  }
}

const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function parseBeijing(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) - SHANGHAI_MS;
  return beijing(ms) === text ? ms : null;
}
