// The one way providers call out over HTTP. It turns transport trouble into typed errors that say who
// failed: a timeout, a refused connection or a 5xx is ProviderUnreachableError (our order stays pending
// and reconcile decides); a 4xx is returned for the provider to read its error body and throw
// ProviderRejectedError. Every error names the call (`method`, a label with no ids in it) and keeps what
// went wrong underneath as its `cause`.
import { ProviderUnreachableError } from '../domain/errors.ts';

export interface ProviderResponse {
  status: number;
  headers: Headers;
  /** The raw body text: signatures cover the exact bytes. */
  body: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface ProviderFetchInit extends RequestInit {
  /** What is called, for errors and logs: `POST /v3/pay/transactions/native`, `alipay.trade.query`. No ids. */
  label: string;
  timeoutMs?: number;
}

export async function providerFetch(provider: string, url: string, init: ProviderFetchInit): Promise<ProviderResponse> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, label: method, ...rest } = init;
  let res: Response;
  try {
    res = await fetch(url, { ...rest, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    const reason =
      err instanceof Error && err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : `network error (${err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err)})`;
    throw new ProviderUnreachableError(provider, reason, { method, cause: err });
  }
  let body: string;
  try {
    body = await res.text();
  } catch (err) {
    throw new ProviderUnreachableError(provider, 'the answer was cut off', { method, cause: err });
  }
  if (res.status >= 500) throw new ProviderUnreachableError(provider, `HTTP ${res.status}`, { method });
  return { status: res.status, headers: res.headers, body };
}
