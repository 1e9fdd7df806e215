import { describe, expect, it } from 'vitest';
import { createCatalog } from '../../src/conversation/catalog.ts';
import { createDateTimeFormatter, formatMoneyIn, localizeAmounts, zoneLabel } from '../../src/conversation/format.ts';
import { en } from '../../src/conversation/i18n/en.ts';
import { zhCN } from '../../src/conversation/i18n/zh-CN.ts';
import { pluralBranches } from '../../src/conversation/template.ts';

const catalog = createCatalog({ defaultLocale: 'en', timeZone: 'Asia/Shanghai' });
const render = (locale: string, key: string, params: Record<string, string | number> = {}) => catalog.render(locale, { key, params });
/** 2026-12-06 01:08 UTC = 09:08 in Shanghai. */
const AT = Date.UTC(2026, 11, 6, 1, 8);

describe('catalogues', () => {
  it('write plurals as a person would: no "(s)" anywhere, and every plural is well formed with an `other` form', () => {
    for (const [locale, messages] of [
      ['en', en],
      ['zh-CN', zhCN],
    ] as const) {
      for (const [key, text] of Object.entries(messages)) {
        expect(text, `${locale} ${key}`).not.toMatch(/\w\(s\)/);
        for (const m of text.matchAll(/\{\w+, plural,/g)) {
          let depth = 0;
          let end = m.index;
          for (; end < text.length; end++)
            if (text[end] === '{') depth++;
            else if (text[end] === '}' && --depth === 0) break;
          expect(pluralBranches(text.slice(m.index + m[0].length, end)), `${locale} ${key}`).not.toBeNull();
        }
      }
    }
  });

  it('address the reader in zh-CN as 您 throughout, never 你', () => {
    for (const [key, text] of Object.entries(zhCN)) expect(text, key).not.toContain('你');
  });
});

describe('render: counts', () => {
  it.each([
    [0, 'in 0 days', '0 天'],
    [1, 'in 1 day', '1 天'],
    [2, 'in 2 days', '2 天'],
    [5, 'in 5 days', '5 天'],
  ])('%i days reads "%s" / "%s"', (days, _, zh) => {
    expect(render('en', 'reminder.before', { group: 'Club', expiresAt: AT, days })).toContain(`: ${days} ${days === 1 ? 'day' : 'days'} left.`);
    expect(render('en', 'membership.extended', { group: 'Club', expiresAt: AT, days })).toContain(`extended by ${days} ${days === 1 ? 'day' : 'days'},`);
    expect(render('zh-CN', 'reminder.before', { group: 'Club', expiresAt: AT, days })).toContain(`（还剩 ${zh}）`);
  });

  it('members, people, alerts and renewals agree with their count in en', () => {
    expect([0, 1, 2, 5].map((count) => render('en', 'playground.members_count', { count }))).toEqual(['0 members', '1 member', '2 members', '5 members']);
    expect(render('en', 'owner.broadcast_queued', { count: 1 })).toBe('Broadcast queued for 1 member.');
    expect(render('en', 'owner.stats', { month: '2026-01', active: 1, revenue: '9.90 CNY', renewals: 2, churn: 0 })).toBe(
      '2026-01: 1 member with access, revenue 9.90 CNY, 2 renewals, 0 lapsed.',
    );
    expect(render('en', 'owner.alert_coalesced', { count: 1 })).toContain('(and 1 more alert like this');
    expect(render('en', 'wechat.audit_removing', { group: 'Club', count: 1, names: 'Mallory' })).toBe(
      'Roster check of "Club": removing 1 person without a paid membership: Mallory.',
    );
    expect(render('en', 'plans.option', { name: 'Day pass', price: '1.00 CNY', days: 1 })).toBe('Day pass: 1.00 CNY for 1 day');
    expect([1, 5].map((count) => render('zh-CN', 'playground.members_count', { count }))).toEqual(['1 位成员', '5 位成员']);
  });
});

describe('render: times say their zone, in the locale date order', () => {
  it('en: "6 Dec 2026, 09:08 (UTC+8)"; zh-CN: "2026年12月6日 09:08 (UTC+8)"', () => {
    expect(render('en', 'pay.expires', { expiresAt: AT })).toBe('This order is open until 6 Dec 2026, 09:08 (UTC+8).');
    expect(render('zh-CN', 'pay.expires', { expiresAt: AT })).toBe('订单有效期至 2026年12月6日 09:08 (UTC+8)。');
    expect(render('en', 'reminder.grace', { group: 'Club', graceUntil: AT })).toContain('until 6 Dec 2026, 09:08 (UTC+8);');
  });

  it('uses the configured zone, with half hours and plain UTC', () => {
    expect(createDateTimeFormatter('UTC')('en', AT)).toBe('6 Dec 2026, 01:08 (UTC)');
    expect(createDateTimeFormatter('Asia/Kolkata')('zh-CN', AT)).toBe('2026年12月6日 06:38 (UTC+5:30)');
    // Daylight saving shows as the offset of that day.
    expect(zoneLabel(Date.UTC(2026, 6, 1), 'Europe/Berlin')).toBe('UTC+2');
    expect(zoneLabel(Date.UTC(2026, 0, 1), 'Europe/Berlin')).toBe('UTC+1');
  });
});

describe('render: amounts', () => {
  it('zh-CN reads yuan as ¥9.90; en and other currencies keep "9.90 CNY"', () => {
    expect(render('zh-CN', 'refund.done', { amount: '9.90 CNY' })).toBe('您支付的 ¥9.90 已退款。');
    expect(render('en', 'refund.done', { amount: '9.90 CNY' })).toBe('Your payment of 9.90 CNY has been refunded.');
    expect(render('zh-CN', 'owner.stats', { month: '2026-01', active: 2, revenue: '9.90 CNY, 5.00 USD', renewals: 0, churn: 0 })).toBe(
      '2026-01：2 人有效，收入 ¥9.90, 5.00 USD，续费 0 次，流失 0 人。',
    );
    // Only amount parameters: a member's own words keep what they wrote.
    expect(render('zh-CN', 'broadcast', { group: 'Club', text: 'Only 9.90 CNY' })).toBe('📣 Club：Only 9.90 CNY');
  });

  it('formatMoneyIn and localizeAmounts', () => {
    expect(formatMoneyIn('zh-CN', 990, 'CNY')).toBe('¥9.90');
    expect(formatMoneyIn('zh-CN', -5, 'CNY')).toBe('-¥0.05');
    expect(formatMoneyIn('zh-CN', 500, 'USD')).toBe('5.00 USD');
    expect(formatMoneyIn('en', 990, 'CNY')).toBe('9.90 CNY');
    expect(localizeAmounts('-1.00 CNY (of 9.90 CNY)', 'zh-CN')).toBe('-¥1.00 (of ¥9.90)');
    expect(localizeAmounts('9.90 CNY', 'en')).toBe('9.90 CNY');
  });
});
