import { describe, expect, it } from 'vitest';
import { fillTemplate, PLURAL_CLIENT_JS, pluralCategory } from '../../src/conversation/template.ts';

type Fill = (template: string, locale: string, params: Record<string, string | number>) => string;
// The playground page's copy of the rules, run as the browser runs it.
const clientFill = new Function(`${PLURAL_CLIENT_JS}\nreturn fillTemplate;`)() as Fill;

const DAYS = '{days, plural, one {# day} other {# days}} left';

describe.each([
  ['server', fillTemplate as Fill],
  ['playground page', clientFill],
])('fillTemplate (%s)', (_where, fill) => {
  it('picks the English form by Intl.PluralRules for 0, 1, 2 and 5', () => {
    expect([0, 1, 2, 5].map((days) => fill(DAYS, 'en', { days }))).toEqual(['0 days left', '1 day left', '2 days left', '5 days left']);
  });

  it('has one form in zh-CN: every count takes `other`', () => {
    const t = '还剩 {days, plural, other {# 天}}';
    expect([0, 1, 2, 5].map((days) => fill(t, 'zh-CN', { days }))).toEqual(['还剩 0 天', '还剩 1 天', '还剩 2 天', '还剩 5 天']);
  });

  it('prefers an exact =N branch, fills parameters inside branches and reads counts given as text', () => {
    const t = '{count, plural, =0 {nobody in {group}} one {# person in {group}} other {# people in {group}}}';
    expect(fill(t, 'en', { count: 0, group: 'Club' })).toBe('nobody in Club');
    expect(fill(t, 'en', { count: '1', group: 'Club' })).toBe('1 person in Club');
    expect(fill(t, 'en', { count: 3, group: 'Club' })).toBe('3 people in Club');
  });

  it('leaves missing parameters, non-numbers and malformed plurals as written', () => {
    expect(fill('Hi {name}, {other}', 'en', { name: 'Ann' })).toBe('Hi Ann, {other}');
    expect(fill(DAYS, 'en', {})).toBe(DAYS);
    expect(fill(DAYS, 'en', { days: 'many' })).toBe(DAYS);
    expect(fill('{n, plural, one {# x}}', 'en', { n: 2 })).toBe('{n, plural, one {# x}}');
    expect(fill('open { brace', 'en', {})).toBe('open { brace');
    expect(fill('#{id} is #1', 'en', { id: 7 })).toBe('#7 is #1');
  });
});

describe('pluralCategory', () => {
  it('follows CLDR: en one/other, zh-CN other only', () => {
    expect([0, 1, 2, 5].map((n) => pluralCategory('en', n))).toEqual(['other', 'one', 'other', 'other']);
    expect([0, 1, 2, 5].map((n) => pluralCategory('zh-CN', n))).toEqual(['other', 'other', 'other', 'other']);
  });
});
