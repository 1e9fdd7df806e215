// Inbound text or button → intent. Pure: no store, no platform. Text commands, Chinese keywords and
// numbered replies all lead to the same intents, because WeChat has no buttons.

export const OWNER_COMMANDS = [
  'groups',
  'members',
  'addplan',
  'disableplan',
  'extend',
  'remove',
  'ban',
  'unban',
  'refund',
  'stats',
  'broadcast',
  'intruders',
  'whitelist',
  'unwhitelist',
  'refundwindow',
  'ownerhelp',
  'approve',
  'reject',
  'applications',
  'joinmode',
  'questions',
  'blacklist',
  'digest',
  'console',
  'addcoupon',
  'coupons',
  'disablecoupon',
] as const;
export type OwnerCommand = (typeof OWNER_COMMANDS)[number];

export type Intent =
  | { kind: 'start'; payload: string | null }
  | { kind: 'plans' }
  | { kind: 'choose_plan'; planId: number }
  | { kind: 'pay'; planId: number; provider: string }
  | { kind: 'status' }
  | { kind: 'renew' }
  | { kind: 'orders' }
  | { kind: 'help' }
  | { kind: 'reinvite' }
  /** Telegram requires every bot that sells to answer /paysupport (telegram.org/tos/bot-developers). */
  | { kind: 'paysupport' }
  /** `/cancel` (取消续费): stop auto-renewal; `/resume` (恢复续费): turn it back on before the period ends. */
  | { kind: 'cancel_renewal' }
  | { kind: 'resume_renewal' }
  /** `/billing` (账单): a link to manage the card that renews the membership (Stripe's Customer Portal). */
  | { kind: 'billing' }
  /** `/refund …` (退款 …): a member's refund on request, or an owner's `/refund <order-id>`; the engine tells them apart. */
  | { kind: 'refund'; args: string[]; rest: string }
  /** The group picked for a refund on request (the reason was given before). */
  | { kind: 'refund_group'; groupId: number }
  | { kind: 'number'; n: number }
  | { kind: 'claim'; code: string }
  | { kind: 'owner'; command: OwnerCommand; args: string[]; rest: string }
  /** Join review: the member's one appeal (`/appeal <text>`, 申诉 <text>). */
  | { kind: 'appeal'; text: string }
  /** Join review: `/answer` lists the questions; `/answer <n> <text>` (回答 <n> <text>) answers or amends one. */
  | { kind: 'answer'; n: number | null; text: string }
  /** Issue 16: `/invite-friends` (邀请好友): the person's invite link or code. */
  | { kind: 'invite_friends' }
  /** `/referrals` (我的邀请): the person's referral figures (an owner also sees the top referrers). */
  | { kind: 'referrals' }
  /** `邀请码 <code>` (WeChat has no deep links): the code of the person who invited them. */
  | { kind: 'referral_code'; code: string }
  /** Issue 16: `/coupon <code>` (优惠码 <code>): apply a coupon code to the next checkout; code null: none given. */
  | { kind: 'coupon'; code: string | null }
  /** Issue 16: the plan menu's "start free trial" choice. */
  | { kind: 'trial'; planId: number }
  | { kind: 'unknown' };

/** Longest text we look at; anything longer is cut before parsing (a 10 kB paste is still just "unknown"). */
export const MAX_TEXT = 4096;

const KEYWORDS: Array<[RegExp, Intent]> = [
  [/^(入群|加入|开始|start|join)$/i, { kind: 'start', payload: null }],
  [/^(套餐|价格|plans?|prices?)$/i, { kind: 'plans' }],
  [/^(续费|续期|renew)$/i, { kind: 'renew' }],
  [/^(我的会员|会员|状态|status|me)$/i, { kind: 'status' }],
  [/^(订单|我的订单|orders?)$/i, { kind: 'orders' }],
  [/^(帮助|help|\?|？|菜单|menu)$/i, { kind: 'help' }],
  [/^(重新入群|重新邀请|重新加入)$/, { kind: 'reinvite' }],
  [/^(支付帮助|支付问题|付款问题|paysupport)$/i, { kind: 'paysupport' }],
  [/^(取消续费|取消自动续费|取消订阅)$/, { kind: 'cancel_renewal' }],
  [/^(恢复续费|恢复自动续费)$/, { kind: 'resume_renewal' }],
  [/^(邀请好友|邀请有礼)$/, { kind: 'invite_friends' }],
  [/^(我的邀请|邀请记录)$/, { kind: 'referrals' }],
  [/^(账单|管理账单|billing)$/i, { kind: 'billing' }],
];

const MEMBER_COMMANDS: Record<string, Intent> = {
  plans: { kind: 'plans' },
  status: { kind: 'status' },
  renew: { kind: 'renew' },
  orders: { kind: 'orders' },
  help: { kind: 'help' },
  reinvite: { kind: 'reinvite' },
  paysupport: { kind: 'paysupport' },
  cancel: { kind: 'cancel_renewal' },
  resume: { kind: 'resume_renewal' },
  // Telegram's command menu allows only [a-z0-9_]; the name has a hyphen: both are read.
  'invite-friends': { kind: 'invite_friends' },
  invite_friends: { kind: 'invite_friends' },
  referrals: { kind: 'referrals' },
  billing: { kind: 'billing' },
};

const memberCommand = (name: string): Intent | undefined => (Object.hasOwn(MEMBER_COMMANDS, name) ? MEMBER_COMMANDS[name] : undefined);

function fromChoice(value: string): Intent {
  let m = /^plan:(\d{1,9})$/.exec(value);
  if (m) return { kind: 'choose_plan', planId: Number(m[1]) };
  m = /^pay:(\d{1,9}):([a-z]{2,20})$/.exec(value);
  if (m) return { kind: 'pay', planId: Number(m[1]), provider: m[2]! };
  // The join review's approve/reject buttons under an application (owner alerts).
  m = /^review:(approve|reject):(\d{1,9})$/.exec(value);
  if (m) return { kind: 'owner', command: m[1] as 'approve' | 'reject', args: [m[2]!], rest: m[2]! };
  m = /^trial:(\d{1,9})$/.exec(value);
  if (m) return { kind: 'trial', planId: Number(m[1]) };
  m = /^refund:(\d{1,9})$/.exec(value);
  if (m) return { kind: 'refund_group', groupId: Number(m[1]) };
  m = /^cmd:([a-z]{2,20})$/.exec(value);
  if (m) return memberCommand(m[1]!) ?? (m[1] === 'start' ? { kind: 'start', payload: null } : { kind: 'unknown' });
  return { kind: 'unknown' };
}

export function parseIntent(msg: { text?: string; choice?: string }): Intent {
  if (typeof msg.choice === 'string' && msg.choice.length > 0) return fromChoice(msg.choice.slice(0, 100));
  // NFKC folds full-width digits and letters (１, ／ｓｔａｒｔ) typed on Chinese keyboards.
  const text = (typeof msg.text === 'string' ? msg.text : '').slice(0, MAX_TEXT).normalize('NFKC').trim();
  if (!text) return { kind: 'unknown' };
  const num = /^(\d{1,3})[.)、]?$/.exec(text);
  if (num) return { kind: 'number', n: Number(num[1]) };
  if (/^claim-[0-9a-f]{32}$/i.test(text)) return { kind: 'claim', code: text };
  // Join review in Chinese: an owner's 通过 <n> / 拒绝 <n> <原因>, a member's 申诉 <内容> and 回答 <编号> <内容>.
  const zh = /^(通过|拒绝|申诉|回答)(?:\s+|$)([\s\S]*)$/.exec(text);
  if (zh) {
    const rest = zh[2]!.trim();
    const args = rest ? rest.split(/\s+/) : [];
    if (zh[1] === '通过') return { kind: 'owner', command: 'approve', args, rest };
    if (zh[1] === '拒绝') return { kind: 'owner', command: 'reject', args, rest };
    if (zh[1] === '申诉') return { kind: 'appeal', text: rest };
    return answerIntent(rest);
  }
  if (text.startsWith('/')) {
    const [head = '', ...args] = text.slice(1).split(/\s+/);
    const command = head.replace(/@\w+$/, '').toLowerCase(); // Telegram appends @botname in groups
    const rest = text.slice(1 + head.length).trim();
    if (command === 'start') return { kind: 'start', payload: args[0] && /^[A-Za-z0-9_-]{1,64}$/.test(args[0]) ? args[0] : null };
    const member = memberCommand(command);
    if (member) return member;
    if (command === 'appeal') return { kind: 'appeal', text: rest };
    if (command === 'answer') return answerIntent(rest);
    if (command === 'refund') return { kind: 'refund', args, rest };
    if (command === 'coupon') return { kind: 'coupon', code: args[0] ?? null };
    if ((OWNER_COMMANDS as readonly string[]).includes(command)) return { kind: 'owner', command: command as OwnerCommand, args, rest };
    return { kind: 'unknown' };
  }
  // The owner console's sign-in link (issue 15): 控制台 on WeChat, which has no slash commands.
  if (/^(控制台|管理后台)$/.test(text)) return { kind: 'owner', command: 'console', args: [], rest: '' };
  for (const [re, intent] of KEYWORDS) if (re.test(text)) return intent;
  const code = /^邀请码[\s:：]*([\s\S]*)$/.exec(text);
  if (code) return { kind: 'referral_code', code: code[1]!.trim().slice(0, 64) };
  const coupon = /^(?:优惠码|兑换码)(?:[\s:：]+(\S+))?\s*$/.exec(text);
  if (coupon) return { kind: 'coupon', code: coupon[1] ?? null };
  const refund = /^退款(?:[\s:：,，]+([\s\S]*))?$/.exec(text);
  if (refund) {
    const rest = (refund[1] ?? '').trim();
    return { kind: 'refund', args: rest ? rest.split(/\s+/) : [], rest };
  }
  return { kind: 'unknown' };
}

function answerIntent(rest: string): Intent {
  const m = /^(\d{1,2})(?:\s+([\s\S]*))?$/.exec(rest);
  if (!rest) return { kind: 'answer', n: null, text: '' };
  return m ? { kind: 'answer', n: Number(m[1]), text: (m[2] ?? '').trim() } : { kind: 'answer', n: null, text: rest };
}
