// Official Account web authorization (公众号网页授权) with scope=snsapi_base: learns the payer's openid under
// the Official Account appid without a consent screen, for JSAPI payments inside WeChat (issue 21 part 2).
//
// PROTOCOL (developers.weixin.qq.com/doc/offiaccount/en/OA_Web_Apps/Wechat_webpage_authorization.html,
// 网页授权; also the community write-ups of errcode 40029 "invalid code"):
//   1. Send the browser (inside WeChat) to
//      https://open.weixin.qq.com/connect/oauth2/authorize?appid=APPID&redirect_uri=URLENCODED&response_type=code
//        &scope=snsapi_base&state=STATE#wechat_redirect
//      The parameters must be in this order; redirect_uri's domain must be the Official Account's
//      网页授权域名; state is at most 128 bytes of [a-zA-Z0-9]. snsapi_base asks nothing of the person.
//   2. WeChat redirects to redirect_uri?code=CODE&state=STATE. The code is good for one use within 5 minutes.
//   3. GET https://api.weixin.qq.com/sns/oauth2/access_token?appid=APPID&secret=SECRET&code=CODE
//        &grant_type=authorization_code
//      → {"access_token","expires_in":7200,"refresh_token","openid","scope":"snsapi_base"} on success, or
//      → {"errcode":40029,"errmsg":"invalid code"} (40163 code been used, 40125 invalid appsecret, 40013
//        invalid appid, …) with HTTP 200. Only the openid is kept; the web access token is not needed.
import { ProviderUnreachableError } from '../../domain/errors.ts';
import { providerFetch } from '../http.ts';

export interface MpOauthConfig {
  appid: string;
  secret: string;
  /** https://open.weixin.qq.com (WECHAT_MP_OAUTH_BASE) */
  oauthBase: string;
  /** https://api.weixin.qq.com (WECHAT_MP_API_BASE) */
  apiBase: string;
}

export type OpenidAnswer = { ok: true; openid: string } | { ok: false; errcode: number; errmsg: string };

const LABEL = 'GET /sns/oauth2/access_token';

export class MpOauth {
  constructor(readonly config: MpOauthConfig) {}

  get appid(): string {
    return this.config.appid;
  }

  /** Where the browser goes to come back with a code (the order of the parameters is WeChat's). */
  authorizeUrl(redirectUri: string, state: string): string {
    const base = this.config.oauthBase.replace(/\/+$/, '');
    return `${base}/connect/oauth2/authorize?appid=${encodeURIComponent(this.config.appid)}&redirect_uri=${encodeURIComponent(redirectUri)}&response_type=code&scope=snsapi_base&state=${state}#wechat_redirect`;
  }

  /** The code for the openid. A transport failure or an unreadable answer throws ProviderUnreachableError. */
  async openid(code: string): Promise<OpenidAnswer> {
    const base = this.config.apiBase.replace(/\/+$/, '');
    const q = new URLSearchParams({ appid: this.config.appid, secret: this.config.secret, code, grant_type: 'authorization_code' });
    const res = await providerFetch('wechat-mp', `${base}/sns/oauth2/access_token?${q.toString()}`, { method: 'GET', label: LABEL });
    let json: { openid?: unknown; errcode?: unknown; errmsg?: unknown };
    try {
      json = JSON.parse(res.body) as typeof json;
    } catch (err) {
      throw new ProviderUnreachableError('wechat-mp', `the code exchange answered HTTP ${res.status} with no JSON`, { method: LABEL, cause: err });
    }
    if (typeof json.errcode === 'number' && json.errcode !== 0)
      return { ok: false, errcode: json.errcode, errmsg: typeof json.errmsg === 'string' ? json.errmsg.slice(0, 200) : '' };
    if (typeof json.openid !== 'string' || !/^[A-Za-z0-9_-]{6,64}$/.test(json.openid))
      throw new ProviderUnreachableError('wechat-mp', 'the code exchange answered without an openid', { method: LABEL });
    return { ok: true, openid: json.openid };
  }
}
