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
  /** `/refund …` (退款 …): a member's refund on request, or an owner's `/refund <order-id>`; the engine tells them apart. */
  | { kind: 'refund'; args: string[]; rest: string }
  /** The group picked for a refund on request (the reason was given before). */
  | { kind: 'refund_group'; groupId: number }
  | { kind: 'number'; n: number }
  | { kind: 'claim'; code: string }
  | { kind: 'owner'; command: OwnerCommand; args: string[]; rest: string }
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
};

const memberCommand = (name: string): Intent | undefined => (Object.hasOwn(MEMBER_COMMANDS, name) ? MEMBER_COMMANDS[name] : undefined);

function fromChoice(value: string): Intent {
  let m = /^plan:(\d{1,9})$/.exec(value);
  if (m) return { kind: 'choose_plan', planId: Number(m[1]) };
  m = /^pay:(\d{1,9}):([a-z]{2,20})$/.exec(value);
  if (m) return { kind: 'pay', planId: Number(m[1]), provider: m[2]! };
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
  if (text.startsWith('/')) {
    const [head = '', ...args] = text.slice(1).split(/\s+/);
    const command = head.replace(/@\w+$/, '').toLowerCase(); // Telegram appends @botname in groups
    const rest = text.slice(1 + head.length).trim();
    if (command === 'start') return { kind: 'start', payload: args[0] && /^[A-Za-z0-9_-]{1,64}$/.test(args[0]) ? args[0] : null };
    const member = memberCommand(command);
    if (member) return member;
    if (command === 'refund') return { kind: 'refund', args, rest };
    if ((OWNER_COMMANDS as readonly string[]).includes(command)) return { kind: 'owner', command: command as OwnerCommand, args, rest };
    return { kind: 'unknown' };
  }
  for (const [re, intent] of KEYWORDS) if (re.test(text)) return intent;
  const refund = /^退款(?:[\s:：,，]+([\s\S]*))?$/.exec(text);
  if (refund) {
    const rest = (refund[1] ?? '').trim();
    return { kind: 'refund', args: rest ? rest.split(/\s+/) : [], rest };
  }
  return { kind: 'unknown' };
}
