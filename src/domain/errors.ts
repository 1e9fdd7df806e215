/**
 * Typed errors that say who failed. Use cases throw these; adapters map them to their medium
 * (HTTP status, CLI exit line, chat reply). Messages are one line and safe to show to the caller.
 */
export type ErrorCode = 'invalid_input' | 'not_found' | 'conflict' | 'forbidden' | 'unauthorized';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string) => new DomainError('invalid_input', message);
export const notFound = (message: string) => new DomainError('not_found', message);
export const conflict = (message: string) => new DomainError('conflict', message);
export const forbidden = (message: string) => new DomainError('forbidden', message);

/**
 * Who was called and what went wrong underneath, for the errors of outside parties (payment providers,
 * chat platforms). `method` is the API method or endpoint (`banChatMember`, `POST
 * /v3/pay/transactions/native`, `alipay.trade.precreate`) with no ids in it; `cause` is the underlying
 * error (ES2022 `Error.cause`), so the one log line at the boundary shows the whole chain.
 */
export interface ProviderErrorOptions {
  method?: string;
  cause?: unknown;
}

const errorOptions = (o: ProviderErrorOptions): ErrorOptions | undefined => (o.cause === undefined ? undefined : { cause: o.cause });

/**
 * The outside party answered and said no (bad request, bad signature, business refusal). Retrying the
 * same call will not help. Like grammY's GrammyError: the API was reached and refused.
 */
export class ProviderRejectedError extends Error {
  readonly method: string | undefined;

  constructor(
    readonly provider: string,
    message: string,
    readonly detail?: string,
    opts: ProviderErrorOptions = {},
  ) {
    super(`${provider} rejected the request: ${message}`, errorOptions(opts));
    this.name = 'ProviderRejectedError';
    this.method = opts.method;
  }
}

/**
 * The outside party could not be reached or timed out. Its state is unknown: leave ours as it is and let
 * reconcile decide. Like grammY's HttpError: the network (or the far side's server) failed.
 */
export class ProviderUnreachableError extends Error {
  readonly method: string | undefined;

  constructor(
    readonly provider: string,
    message: string,
    opts: ProviderErrorOptions = {},
  ) {
    super(`${provider} is unreachable: ${message}`, errorOptions(opts));
    this.name = 'ProviderUnreachableError';
    this.method = opts.method;
  }
}

/**
 * No adapter for this chat platform is running in this process (not configured, not started yet, or
 * stopped). Transient, but not soon: the job worker waits long between tries instead of hammering the
 * store with a backlog it cannot deliver.
 */
export class PlatformNotRunningError extends ProviderUnreachableError {
  constructor(platform: string, opts: ProviderErrorOptions = {}) {
    super(platform, 'no chat adapter for this platform is running', opts);
    this.name = 'PlatformNotRunningError';
  }
}

/** A chat platform or provider asked us to wait; the job is retried after `retryAfterMs` without counting as a failure. */
export class RetryAfterError extends Error {
  readonly method: string | undefined;

  constructor(
    readonly retryAfterMs: number,
    message = `asked to retry after ${retryAfterMs} ms`,
    opts: ProviderErrorOptions = {},
  ) {
    super(message, errorOptions(opts));
    this.name = 'RetryAfterError';
    this.method = opts.method;
  }
}
