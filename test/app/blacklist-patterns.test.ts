// A blacklist name pattern is matched against every payer's name on the one event loop: a pattern that makes
// JavaScript's backtracking engine run for ever ("(a+)+$" against "aaaa…!") is refused when it is added, and one
// already stored (saved before this check) matches nobody instead of freezing the service.
import { describe, expect, it } from 'vitest';
import type { Account, BlacklistEntry } from '../../src/app/model.ts';
import { blacklistMatches, compilePattern, unsafePatternReason } from '../../src/app/review.ts';
import { DomainError } from '../../src/domain/errors.ts';

const account = (displayName: string): Account =>
  ({ id: 7, platform: 'telegram', platformUserId: '42', displayName, username: null, locale: null }) as unknown as Account;
const nameEntry = (value: string): BlacklistEntry =>
  ({ id: 1, groupId: 1, kind: 'name', platform: null, value, reason: null, addedBy: 'admin:cli', createdAt: 0 }) as BlacklistEntry;

describe('blacklist name patterns', () => {
  it('refuses patterns that could backtrack for ever, with one clear line, and keeps the useful ones', () => {
    for (const p of ['spam.*bot', '^vip', 'casino|bet', '(casino|bet)', '(ab)+', 'a{2,}', 'x{2}', 'a+?', '[(]+', '\\(a+\\)+'])
      expect(unsafePatternReason(p), p).toBeNull();
    for (const p of ['(a+)+$', '(a|aa)*', '(a*)*', '(\\w+\\s?)+$', '(a{1,3})+', '(casino|bet)+', '.*.*.*.*x', '(a)\\1'])
      expect(unsafePatternReason(p), p).not.toBeNull();
    let err: unknown;
    try {
      compilePattern('(a+)+$');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('invalid_input');
    expect((err as DomainError).message).toMatch(/^"\(a\+\)\+\$" could take too long to match \(a repeated group that holds a repeat or alternatives\)/);
  });

  it('an unsafe pattern stored earlier matches nobody, at once; a safe one still matches', () => {
    // Without the check this one call runs for hours (the test's time-out would end it).
    expect(blacklistMatches(nameEntry('(a+)+$'), account(`${'a'.repeat(40)}!`))).toBe(false);
    expect(blacklistMatches(nameEntry('spam.*bot'), account('Spam Daily Bot'))).toBe(true);
    expect(blacklistMatches(nameEntry('spam.*bot'), account('Alice'))).toBe(false);
  });
});
