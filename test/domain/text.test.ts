import { describe, expect, it } from 'vitest';
import { countOf } from '../../src/domain/text.ts';

describe('countOf', () => {
  it('writes English counts with Intl.PluralRules: 0, 2 and 5 take the plural, 1 the singular', () => {
    expect([0, 1, 2, 5].map((n) => countOf(n, 'day', 'days'))).toEqual(['0 days', '1 day', '2 days', '5 days']);
    expect(countOf(1, 'person', 'people')).toBe('1 person');
  });
});
