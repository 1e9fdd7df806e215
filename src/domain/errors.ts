/**
 * Typed errors that say who failed. Use cases throw these; adapters map them to their medium
 * (HTTP status, CLI exit line, chat reply). Messages are one line and safe to show to the caller.
 */
export type ErrorCode =
  | 'invalid_input'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'unauthorized';

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

/** The outside party answered and said no (bad request, bad signature, business refusal). Retrying the same call will not help. */
export class ProviderRejectedError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    readonly detail?: string,
  ) {
    super(`${provider} rejected the request: ${message}`);
    this.name = 'ProviderRejectedError';
  }
}

/** The outside party could not be reached or timed out. Its state is unknown: leave ours as it is and let reconcile decide. */
export class ProviderUnreachableError extends Error {
  constructor(
    readonly provider: string,
    message: string,
  ) {
    super(`${provider} is unreachable: ${message}`);
    this.name = 'ProviderUnreachableError';
  }
}

/**
 * No adapter for this chat platform is running in this process (not configured, not started yet, or
 * stopped). Transient, but not soon: the job worker waits long between tries instead of hammering the
 * store with a backlog it cannot deliver.
 */
export class PlatformNotRunningError extends ProviderUnreachableError {
  constructor(platform: string) {
    super(platform, 'no chat adapter for this platform is running');
    this.name = 'PlatformNotRunningError';
  }
}

/** A chat platform or provider asked us to wait; the job is retried after `retryAfterMs` without counting as a failure. */
export class RetryAfterError extends Error {
  constructor(
    readonly retryAfterMs: number,
    message = `asked to retry after ${retryAfterMs} ms`,
  ) {
    super(message);
    this.name = 'RetryAfterError';
  }
}
