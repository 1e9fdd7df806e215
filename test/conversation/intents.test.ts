import { describe, expect, it } from 'vitest';
import { OWNER_COMMANDS, parseIntent } from '../../src/conversation/intents.ts';

describe('parseIntent', () => {
  it.each([
    ['/start', { kind: 'start', payload: null }],
    ['/start plan-12', { kind: 'start', payload: 'plan-12' }],
    ['/start bad!', { kind: 'start', payload: null }],
    ['/constructor', { kind: 'unknown' }],
    ['/start@GatekeeperBot', { kind: 'start', payload: null }],
    ['/plans', { kind: 'plans' }],
    ['/status', { kind: 'status' }],
    ['/renew', { kind: 'renew' }],
    ['/orders', { kind: 'orders' }],
    ['/help', { kind: 'help' }],
    ['入群', { kind: 'start', payload: null }],
    ['续费', { kind: 'renew' }],
    ['我的会员', { kind: 'status' }],
    ['订单', { kind: 'orders' }],
    ['帮助', { kind: 'help' }],
    ['  Help ', { kind: 'help' }],
    ['1', { kind: 'number', n: 1 }],
    ['１', { kind: 'number', n: 1 }],
    ['2.', { kind: 'number', n: 2 }],
    ['／ｓｔａｔｕｓ', { kind: 'status' }],
    ['claim-0123456789abcdef0123456789ABCDEF', { kind: 'claim', code: 'claim-0123456789abcdef0123456789ABCDEF' }],
    ['hello there', { kind: 'unknown' }],
    ['', { kind: 'unknown' }],
    ['1234', { kind: 'unknown' }],
    ['/unknown', { kind: 'unknown' }],
  ])('%j', (text, intent) => {
    expect(parseIntent({ text })).toEqual(intent);
  });

  it('reads button values', () => {
    expect(parseIntent({ choice: 'plan:7' })).toEqual({ kind: 'choose_plan', planId: 7 });
    expect(parseIntent({ choice: 'pay:7:alipay' })).toEqual({ kind: 'pay', planId: 7, provider: 'alipay' });
    expect(parseIntent({ choice: 'cmd:renew' })).toEqual({ kind: 'renew' });
    expect(parseIntent({ choice: 'plan:x' })).toEqual({ kind: 'unknown' });
    expect(parseIntent({ choice: 'cmd:constructor' })).toEqual({ kind: 'unknown' });
  });

  it('parses owner commands with their arguments', () => {
    expect(parseIntent({ text: '/extend 12 30 good member' })).toEqual({
      kind: 'owner',
      command: 'extend',
      args: ['12', '30', 'good', 'member'],
      rest: '12 30 good member',
    });
    for (const c of OWNER_COMMANDS.filter((c) => c !== 'refund')) expect(parseIntent({ text: `/${c}` })).toMatchObject({ kind: 'owner', command: c });
  });

  it('/refund and 退款 are one intent (a member’s request or an owner’s order refund, told apart by the engine); a picked group too', () => {
    expect(parseIntent({ text: '/refund not for me' })).toEqual({ kind: 'refund', args: ['not', 'for', 'me'], rest: 'not for me' });
    expect(parseIntent({ text: '/refund' })).toEqual({ kind: 'refund', args: [], rest: '' });
    expect(parseIntent({ text: '退款 课程 不适合' })).toEqual({ kind: 'refund', args: ['课程', '不适合'], rest: '课程 不适合' });
    expect(parseIntent({ text: '退款：太贵了' })).toEqual({ kind: 'refund', args: ['太贵了'], rest: '太贵了' });
    expect(parseIntent({ text: '退款' })).toEqual({ kind: 'refund', args: [], rest: '' });
    expect(parseIntent({ text: '退款吗' })).toEqual({ kind: 'unknown' });
    expect(parseIntent({ choice: 'refund:12' })).toEqual({ kind: 'refund_group', groupId: 12 });
    expect(parseIntent({ choice: 'refund:x' })).toEqual({ kind: 'unknown' });
  });

  it('never throws on any input', () => {
    for (const text of ['\u0000', '🎉'.repeat(5000), '/'.repeat(10000), '\ud800', ' '.repeat(20000)]) expect(() => parseIntent({ text })).not.toThrow();
  });
});

describe('join review intents (issue 17)', () => {
  it('owner decisions: buttons, 通过 / 拒绝 and the slash commands', () => {
    expect(parseIntent({ choice: 'review:approve:12' })).toEqual({ kind: 'owner', command: 'approve', args: ['12'], rest: '12' });
    expect(parseIntent({ choice: 'review:reject:12' })).toEqual({ kind: 'owner', command: 'reject', args: ['12'], rest: '12' });
    expect(parseIntent({ choice: 'review:delete:12' })).toEqual({ kind: 'unknown' });
    expect(parseIntent({ text: '通过 7' })).toEqual({ kind: 'owner', command: 'approve', args: ['7'], rest: '7' });
    expect(parseIntent({ text: '拒绝 7 不认识' })).toEqual({ kind: 'owner', command: 'reject', args: ['7', '不认识'], rest: '7 不认识' });
    expect(parseIntent({ text: '/reject 7 not a member' })).toMatchObject({ kind: 'owner', command: 'reject', args: ['7', 'not', 'a', 'member'] });
    expect(parseIntent({ text: '/joinmode 3 review' })).toMatchObject({ kind: 'owner', command: 'joinmode', args: ['3', 'review'] });
  });

  it('member appeal and answers', () => {
    expect(parseIntent({ text: '/appeal I know the owner' })).toEqual({ kind: 'appeal', text: 'I know the owner' });
    expect(parseIntent({ text: '申诉 我是老会员' })).toEqual({ kind: 'appeal', text: '我是老会员' });
    expect(parseIntent({ text: '/answer 2 From a friend' })).toEqual({ kind: 'answer', n: 2, text: 'From a friend' });
    expect(parseIntent({ text: '回答 1 朋友介绍' })).toEqual({ kind: 'answer', n: 1, text: '朋友介绍' });
    expect(parseIntent({ text: '/answer' })).toEqual({ kind: 'answer', n: null, text: '' });
    // A word that merely starts like a keyword is not one.
    expect(parseIntent({ text: '通过了吗' })).toEqual({ kind: 'unknown' });
  });
});

describe('coupon and trial intents (issue 16)', () => {
  it('/coupon <code>, 优惠码 / 兑换码 <code> (with a full-width colon), the c-CODE deep link payload, the trial button', () => {
    expect(parseIntent({ text: '/coupon SAVE20' })).toEqual({ kind: 'coupon', code: 'SAVE20' });
    expect(parseIntent({ text: '/coupon@gk_bot save20 extra' })).toEqual({ kind: 'coupon', code: 'save20' });
    expect(parseIntent({ text: '/coupon' })).toEqual({ kind: 'coupon', code: null });
    expect(parseIntent({ text: '优惠码 VIP-1' })).toEqual({ kind: 'coupon', code: 'VIP-1' });
    expect(parseIntent({ text: '优惠码：VIP-1' })).toEqual({ kind: 'coupon', code: 'VIP-1' });
    expect(parseIntent({ text: '兑换码 ABC' })).toEqual({ kind: 'coupon', code: 'ABC' });
    expect(parseIntent({ text: '优惠码' })).toEqual({ kind: 'coupon', code: null });
    expect(parseIntent({ text: '优惠码 A B' })).toEqual({ kind: 'unknown' });
    expect(parseIntent({ text: '/start c-VIP-X2' })).toEqual({ kind: 'start', payload: 'c-VIP-X2' });
    expect(parseIntent({ choice: 'trial:7' })).toEqual({ kind: 'trial', planId: 7 });
    expect(parseIntent({ choice: 'trial:x' })).toEqual({ kind: 'unknown' });
  });
});
