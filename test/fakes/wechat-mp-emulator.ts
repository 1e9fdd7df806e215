// A strict loopback emulator of WeChat Official Account web authorization (公众号网页授权, snsapi_base):
// the authorize page at /connect/oauth2/authorize (as open.weixin.qq.com) and the code exchange at
// /sns/oauth2/access_token (as api.weixin.qq.com), one server for both (WECHAT_MP_OAUTH_BASE and
// WECHAT_MP_API_BASE point at it).
//
// Strict as the real one (developers.weixin.qq.com/doc/offiaccount/en/OA_Web_Apps/Wechat_webpage_authorization.html):
// the authorize URL must carry appid, redirect_uri, response_type=code, scope=snsapi_base|snsapi_userinfo and
// a state of at most 128 [a-zA-Z0-9] characters, and the redirect_uri must be on the configured 网页授权域名;
// it then redirects (302) to redirect_uri?code=CODE&state=STATE. A code is good once, for 5 minutes; the
// exchange needs the right appid and secret and grant_type=authorization_code, and answers errcode JSON
// with HTTP 200 otherwise (40013 invalid appid, 40125 invalid appsecret, 40029 invalid code, 40163 code
// been used). A test can script the next exchange's errcode.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface WechatMpEmulatorOptions {
  appid: string;
  secret: string;
  /** 网页授权域名: the host (host:port) redirect_uri must be on. */
  authorizedHost: string;
  /** The openid of whoever opens the authorize page. */
  openid: string;
  now?: () => number;
}

const CODE_TTL_MS = 5 * 60_000;

export class WechatMpEmulator {
  readonly authorizations: Array<{ url: string; status: number; error: string | null }> = [];
  readonly exchanges: Array<{ code: string; errcode: number }> = [];
  /** The errcode the next exchange answers with, whatever the code (then back to normal). */
  nextErrcode: { errcode: number; errmsg: string } | null = null;
  openid: string;
  private readonly codes = new Map<string, { openid: string; issuedAt: number; used: boolean }>();
  private readonly sockets = new Set<Socket>();
  private readonly now: () => number;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly opts: WechatMpEmulatorOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.openid = opts.openid;
  }

  static async start(opts: WechatMpEmulatorOptions): Promise<WechatMpEmulator> {
    // eslint-disable-next-line prefer-const -- the handler needs it before it is made
    let emu: WechatMpEmulator | undefined;
    const server = createServer((req, res) => emu!.handle(req, res));
    server.on('connection', (s) => {
      emu?.sockets.add(s);
      s.on('close', () => emu?.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    emu = new WechatMpEmulator(server, `http://127.0.0.1:${port}`, opts);
    return emu;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** What the authorize page does with `url` (a string the service redirected to): the redirect it answers. */
  authorize(url: string): { status: number; location: string | null; error: string | null } {
    const u = new URL(url);
    const q = u.searchParams;
    const fail = (error: string) => {
      this.authorizations.push({ url, status: 400, error });
      return { status: 400, location: null, error };
    };
    if (u.pathname !== '/connect/oauth2/authorize') return fail('not the authorize page');
    if (u.hash !== '#wechat_redirect') return fail('the URL must end with #wechat_redirect');
    if (q.get('appid') !== this.opts.appid) return fail('appid 错误');
    if (q.get('response_type') !== 'code') return fail('response_type must be code');
    const scope = q.get('scope');
    if (scope !== 'snsapi_base' && scope !== 'snsapi_userinfo') return fail('scope 参数错误或没有 scope 权限');
    const state = q.get('state') ?? '';
    if (!/^[a-zA-Z0-9]{0,128}$/.test(state)) return fail('state must be at most 128 characters of a-zA-Z0-9');
    const redirect = q.get('redirect_uri');
    let target: URL;
    try {
      target = new URL(redirect ?? '');
    } catch {
      return fail('redirect_uri 参数错误');
    }
    if (target.host !== this.opts.authorizedHost) return fail('redirect_uri 参数错误 (not on the authorized domain)');
    const code = randomBytes(16).toString('hex');
    this.codes.set(code, { openid: this.openid, issuedAt: this.now(), used: false });
    target.searchParams.set('code', code);
    target.searchParams.set('state', state);
    this.authorizations.push({ url, status: 302, error: null });
    return { status: 302, location: target.toString(), error: null };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', this.url);
    if (req.method === 'GET' && u.pathname === '/connect/oauth2/authorize') {
      // A browser cannot send the #fragment; the page itself is what authorize() checks.
      const r = this.authorize(`${u.toString()}#wechat_redirect`);
      if (r.location) res.writeHead(302, { location: r.location }).end();
      else res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(r.error ?? 'error');
      return;
    }
    if (req.method === 'GET' && u.pathname === '/sns/oauth2/access_token') {
      const answer = this.exchange(u.searchParams);
      res.writeHead(200, { 'content-type': 'application/json; encoding=utf-8' }).end(JSON.stringify(answer));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }

  private exchange(q: URLSearchParams): Record<string, unknown> {
    const code = q.get('code') ?? '';
    const err = (errcode: number, errmsg: string) => {
      this.exchanges.push({ code, errcode });
      return { errcode, errmsg: `${errmsg}, rid: ${randomBytes(4).toString('hex')}` };
    };
    if (this.nextErrcode) {
      const e = this.nextErrcode;
      this.nextErrcode = null;
      return err(e.errcode, e.errmsg);
    }
    if (q.get('appid') !== this.opts.appid) return err(40013, 'invalid appid');
    if (q.get('secret') !== this.opts.secret) return err(40125, 'invalid appsecret');
    if (q.get('grant_type') !== 'authorization_code') return err(40002, 'invalid grant_type');
    const c = this.codes.get(code);
    if (!c || this.now() - c.issuedAt > CODE_TTL_MS) return err(40029, 'invalid code');
    if (c.used) return err(40163, 'code been used');
    c.used = true;
    this.exchanges.push({ code, errcode: 0 });
    return {
      access_token: randomBytes(24).toString('base64url'),
      expires_in: 7200,
      refresh_token: randomBytes(24).toString('base64url'),
      openid: c.openid,
      scope: 'snsapi_base',
    };
  }
}
