// The HTTP client for Stripe's v1 API: bearer auth with the secret key, form-encoded parameters, a
// pinned API version, idempotency keys, and typed failures:
//   - no answer, a timeout, a 5xx, a 429 (rate limit) or a 409 (a concurrent request holds the same
//     idempotency key) → ProviderUnreachableError: the state at Stripe is unknown or the call may simply
//     be repeated later (with the same idempotency key, so nothing happens twice);
//   - any other 4xx → StripeApiError (a ProviderRejectedError) carrying Stripe's error type and code;
//   - a 2xx whose body is not the object we asked for → ProviderUnreachableError (state unknown).
import type { z } from 'zod';
import { ProviderRejectedError, ProviderUnreachableError } from '../../domain/errors.ts';
import { DEFAULT_TIMEOUT_MS, providerFetch } from '../http.ts';
import { encodeForm, type FormValue } from './stripe-form.ts';
import { StripeErrorBody } from './stripe-objects.ts';

export const PROVIDER = 'stripe';
/** Pinned so the objects we read keep their shape whatever the account's default version is. */
export const STRIPE_API_VERSION = '2024-06-20';

/** Stripe answered with an error object. `status`, `type` and `code` let callers tell cases apart. */
export class StripeApiError extends ProviderRejectedError {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    method?: string,
  ) {
    super(PROVIDER, message, code ?? type, { method });
    this.name = 'StripeApiError';
  }
}

export interface StripeCall {
  params?: { readonly [key: string]: FormValue };
  idempotencyKey?: string;
}

/** Keeps Stripe's words but never a key (Stripe masks them; this makes sure) and never a second line. */
const clean = (s: string) =>
  s
    .replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g, '[key]')
    .replace(/\s+/g, ' ')
    .slice(0, 300);

export class StripeApi {
  constructor(
    private readonly secretKey: string,
    private readonly apiBase: string,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  get<S extends z.ZodType>(path: string, schema: S, params?: StripeCall['params']): Promise<z.infer<S>> {
    return this.call('GET', path, schema, { params });
  }

  post<S extends z.ZodType>(path: string, schema: S, call: StripeCall = {}): Promise<z.infer<S>> {
    return this.call('POST', path, schema, call);
  }

  /** DELETE (Stripe's verb for cancelling a subscription at once); parameters, if any, go in the query string. */
  delete<S extends z.ZodType>(path: string, schema: S, params?: StripeCall['params']): Promise<z.infer<S>> {
    return this.call('DELETE', path, schema, { params });
  }

  private async call<S extends z.ZodType>(method: 'GET' | 'POST' | 'DELETE', path: string, schema: S, call: StripeCall): Promise<z.infer<S>> {
    const encoded = call.params ? encodeForm(call.params) : '';
    const url = `${this.apiBase}${path}${method !== 'POST' && encoded ? `?${encoded}` : ''}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.secretKey}`,
      'stripe-version': STRIPE_API_VERSION,
      accept: 'application/json',
      'user-agent': 'Gatekeeper',
    };
    if (method === 'POST') headers['content-type'] = 'application/x-www-form-urlencoded';
    if (call.idempotencyKey) headers['idempotency-key'] = call.idempotencyKey;
    const what = `${method} ${path}`;
    const endpoint = endpointOf(method, path);
    const res = await providerFetch(PROVIDER, url, {
      method,
      headers,
      body: method === 'POST' ? encoded : undefined,
      timeoutMs: this.timeoutMs,
      label: endpoint,
    });
    if (res.status === 429) throw new ProviderUnreachableError(PROVIDER, `rate limited on ${what} (HTTP 429)`, { method: endpoint });
    if (res.status === 409)
      throw new ProviderUnreachableError(PROVIDER, `${what} conflicts with a request still running at Stripe (HTTP 409)`, { method: endpoint });
    if (res.status >= 400) throw rejection(res.status, res.body, what, endpoint);
    if (res.status < 200 || res.status >= 300) throw new ProviderUnreachableError(PROVIDER, `unexpected HTTP ${res.status} on ${what}`, { method: endpoint });
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch (err) {
      throw new ProviderUnreachableError(PROVIDER, `${what} answered ${res.status} with a body that is not JSON`, { method: endpoint, cause: err });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new ProviderUnreachableError(PROVIDER, `${what} answered ${res.status} with an unexpected object`, { method: endpoint, cause: parsed.error });
    return parsed.data;
  }
}

/** `GET /v1/checkout/sessions/{id}`: the endpoint, without Stripe object ids. */
export const endpointOf = (method: string, path: string) => `${method} ${path.split('?')[0]!.replace(/\/[a-z]{2,8}_[A-Za-z0-9_]+/g, '/{id}')}`;

function rejection(status: number, body: string, what: string, method: string): StripeApiError {
  let parsed: ReturnType<typeof StripeErrorBody.safeParse> | null;
  try {
    parsed = StripeErrorBody.safeParse(JSON.parse(body));
  } catch {
    parsed = null;
  }
  if (status === 401) return new StripeApiError(status, 'authentication_error', null, `${what}: authentication failed (check STRIPE_SECRET_KEY)`, method);
  if (!parsed?.success) return new StripeApiError(status, 'unknown', null, `${what}: HTTP ${status}`, method);
  const e = parsed.data.error;
  const label = [e.type, e.code].filter(Boolean).join('/');
  return new StripeApiError(
    status,
    e.type,
    e.code ?? null,
    clean(`${what}: ${label}${e.param ? ` (${e.param})` : ''}: ${e.message ?? `HTTP ${status}`}`),
    method,
  );
}
