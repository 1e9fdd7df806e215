// The one way providers call out over HTTP. It turns transport trouble into typed errors that say who
// failed: a timeout, a refused connection or a 5xx is ProviderUnreachableError (our order stays pending
// and reconcile decides); a 4xx is returned for the provider to read its error body and throw
// ProviderRejectedError.
import { ProviderUnreachableError } from '../domain/errors.ts';

export interface ProviderResponse {
  status: number;
  headers: Headers;
  /** The raw body text: signatures cover the exact bytes. */
  body: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export async function providerFetch(provider: string, url: string, init: RequestInit & { timeoutMs?: number }): Promise<ProviderResponse> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, ...rest } = init;
  let res: Response;
  try {
    res = await fetch(url, { ...rest, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  } catch (err) {
    const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `network error (${err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err)})`;
    throw new ProviderUnreachableError(provider, reason);
  }
  let body: string;
  try {
    body = await res.text();
  } catch {
    throw new ProviderUnreachableError(provider, 'the answer was cut off');
  }
  if (res.status >= 500) throw new ProviderUnreachableError(provider, `HTTP ${res.status}`);
  return { status: res.status, headers: res.headers, body };
}
