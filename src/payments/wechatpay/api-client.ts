// One signed call to the WeChat Pay v3 API and one verified answer. Transport trouble, 5xx, 429 and any
// answer whose signature we cannot verify are ProviderUnreachableError (we do not know what happened
// there); a verified or unsigned 4xx is handed back as a business error for the caller to name.
import type { Clock } from '../../domain/time.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../domain/errors.ts';
import { providerFetch } from '../http.ts';
import { authorization, type MerchantCredentials, type PlatformKey, SignatureCheckError, signedHeadersOf, verifyPlatformSignature } from './signing.ts';

export const PROVIDER = 'wechatpay';
export const USER_AGENT = 'gatekeeper-wechatpay/1 (+node)';

export type ApiAnswer = { ok: true; status: number; json: unknown } | { ok: false; status: number; code: string; message: string; method: string };

/** `GET /v3/pay/transactions/out-trade-no/{out_trade_no}`: the endpoint, without ids or the query string. */
export const endpointOf = (method: string, path: string) =>
  `${method} ${path
    .split('?')[0]!
    .replace(/\/out-trade-no\/[^/]+/, '/out-trade-no/{out_trade_no}')
    .replace(/\/domestic\/refunds\/[^/]+/, '/domestic/refunds/{out_refund_no}')}`;

export interface ApiClientOptions {
  apiBase: string;
  cred: MerchantCredentials;
  platform: PlatformKey;
  clock: Clock;
  timeoutMs?: number;
}

export class WechatPayApi {
  private readonly base: string;

  constructor(private readonly o: ApiClientOptions) {
    this.base = o.apiBase.replace(/\/+$/, '');
  }

  async call(method: 'GET' | 'POST', path: string, body?: object): Promise<ApiAnswer> {
    const url = new URL(this.base + path);
    const bodyText = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': USER_AGENT,
      authorization: authorization(this.o.cred, method, url.pathname + url.search, bodyText, Math.floor(this.o.clock.now() / 1000)),
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const endpoint = endpointOf(method, path);
    const res = await providerFetch(PROVIDER, url.toString(), {
      method,
      headers,
      body: body === undefined ? undefined : bodyText,
      timeoutMs: this.o.timeoutMs,
      label: endpoint,
    });

    if (res.status === 429) throw new ProviderUnreachableError(PROVIDER, 'rate limited (HTTP 429), try again later', { method: endpoint });
    if (res.status < 200 || (res.status >= 300 && res.status < 400))
      throw new ProviderUnreachableError(PROVIDER, `unexpected HTTP ${res.status}`, { method: endpoint });
    const signed = signedHeadersOf((n) => res.headers.get(n));
    const isSigned = signed.signature !== undefined;
    // Every 2xx must be signed. A 4xx is signed when WeChat Pay accepted our own signature; an unsigned 4xx
    // is what it answers when it did not (401 SIGN_ERROR), so only a signed-but-wrong 4xx is untrusted.
    if (res.status < 300 || isSigned) {
      try {
        verifyPlatformSignature(signed, res.body, this.o.platform, this.o.clock.now());
      } catch (err) {
        if (err instanceof SignatureCheckError)
          throw new ProviderUnreachableError(PROVIDER, `answer to ${method} ${path.split('?')[0]} failed verification (${err.message})`, {
            method: endpoint,
            cause: err,
          });
        throw err;
      }
    }
    if (res.status < 300) {
      if (res.body === '') return { ok: true, status: res.status, json: null };
      try {
        return { ok: true, status: res.status, json: JSON.parse(res.body) as unknown };
      } catch (err) {
        throw new ProviderUnreachableError(PROVIDER, `answer to ${method} ${path.split('?')[0]} is not JSON`, { method: endpoint, cause: err });
      }
    }
    let code = `HTTP_${res.status}`;
    let message = `HTTP ${res.status}`;
    try {
      const e = JSON.parse(res.body) as { code?: unknown; message?: unknown };
      if (typeof e.code === 'string' && e.code) code = e.code.slice(0, 64);
      if (typeof e.message === 'string' && e.message) message = e.message.replace(/\s+/g, ' ').slice(0, 200);
    } catch {
      // Not JSON: keep the status as the code.
    }
    return { ok: false, status: res.status, code, message, method: endpoint };
  }
}

/** A business refusal as the typed error the core understands; `detail` carries WeChat Pay's code. */
export function rejected(a: Extract<ApiAnswer, { ok: false }>, what: string): ProviderRejectedError {
  return new ProviderRejectedError(PROVIDER, `${what}: ${a.code} (${a.message})`, a.code, { method: a.method });
}

/** `method`: the endpoint whose answer it was (see endpointOf). */
export function unreadable(what: string, method: string): ProviderUnreachableError {
  return new ProviderUnreachableError(PROVIDER, `${what} has an unexpected shape`, { method });
}
