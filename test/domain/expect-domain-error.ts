import { expect } from 'vitest';
import { DomainError, type ErrorCode } from '../../src/domain/errors.ts';

/** Runs `fn`, asserts it throws a DomainError with `code` (and a message matching `message`), returns the error. */
export function expectDomainError(fn: () => unknown, code: ErrorCode, message?: RegExp): DomainError {
  let thrown: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  expect(threw, 'expected a DomainError to be thrown').toBe(true);
  expect(thrown).toBeInstanceOf(DomainError);
  const err = thrown as DomainError;
  expect(err.code).toBe(code);
  expect(err.name).toBe('DomainError');
  expect(err.message, 'messages are one line').not.toMatch(/[\r\n]/);
  if (message) expect(err.message).toMatch(message);
  return err;
}
