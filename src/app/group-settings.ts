// A group's settings, and the one way to change them after the group exists. SETTINGS is the table every
// surface reads: the CLI's `group set` flags and help, the admin API's `PATCH /api/groups/:id` body, the
// group view (groupJson) and the audit entry all come from it, so a new setting is one more row here.
import { conflict, invalid, notFound } from '../domain/errors.ts';
import { HOUR_MS } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf } from './actors.ts';
import { groupAudit } from './audit-entries.ts';
import type { AppDeps } from './deps.ts';
import type { Group, IntruderPolicy } from './model.ts';
import type { GroupSettingsPatch } from './ports.ts';
import { intruderPolicyGate } from './roster.ts';
import { checkDoor } from './door.ts';
import { MAX_REFERRAL_REWARD_DAYS } from './referrals.ts';

/** The longest grace, reminder offset and refund window an owner may set: 30 days, as GRACE_HOURS. */
export const MAX_SETTING_HOURS = 24 * 30;
/** At most this many reminders before an expiry. */
export const MAX_REMINDERS = 10;

const INTRUDER_POLICIES: readonly IntruderPolicy[] = ['report', 'remove', 'ignore'];

/** One group setting: how it is named on each surface, read from a group, checked and written. */
export interface GroupSetting<V> {
  /** Its name in the admin API body and the group view. */
  key: string;
  /** The CLI flag, without the dashes. */
  flag: string;
  /** The CLI flag's value, as --help shows it. */
  valueHelp: string;
  /** One line for --help and the README. */
  description: string;
  /** What people call it in an error or an audit line. */
  label: string;
  read(g: Group): V;
  /** Untrusted input (a JSON value, or a CLI word through fromText) → the value, or a one-line `invalid` error. */
  check(input: unknown): V;
  /** A CLI word → a value for `check`. */
  fromText(text: string): unknown;
  patch(v: V): GroupSettingsPatch;
  /** The value as a person reads it (CLI text, audit line). */
  show(v: V): string;
  /** The value as the word `fromText` reads back (a form field's current value in the console). */
  toText(v: V): string;
  /** The only words `fromText` takes, when there are a few (the console offers them as a choice); absent: free text. */
  choices?: readonly string[];
}

const got = (input: unknown) => {
  const s = typeof input === 'string' ? input : (JSON.stringify(input) ?? String(input));
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
};

/** A CLI word that is a whole number becomes a number; anything else stays text (and `check` says why it is wrong). */
const numberFromText = (t: string) => (/^\s*\d{1,9}\s*$/.test(t) ? Number(t) : t);

const wholeHours = (label: string, input: unknown): number => {
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > MAX_SETTING_HOURS)
    throw invalid(`${label} must be a whole number of hours from 0 to ${MAX_SETTING_HOURS} (got ${got(input)})`);
  return input;
};

const graceHours: GroupSetting<number> = {
  key: 'graceHours',
  flag: 'grace-hours',
  valueHelp: '<n>',
  description: `hours a lapsed member stays in the group before removal (0 to ${MAX_SETTING_HOURS})`,
  label: 'grace hours',
  read: (g) => g.graceMs / HOUR_MS,
  check: (input) => wholeHours('grace hours', input),
  fromText: numberFromText,
  patch: (v) => ({ graceMs: v * HOUR_MS }),
  show: (v) => `${v} h`,
  toText: String,
};

const reminders: GroupSetting<number[]> = {
  key: 'reminders',
  flag: 'reminders',
  valueHelp: '<hours,…>',
  description: `reminders before expiry, in hours before it (e.g. 72,24; 0 = at expiry; "none" for none; at most ${MAX_REMINDERS})`,
  label: 'reminders',
  read: (g) => [...new Set(g.reminderOffsetsMs.map((ms) => ms / HOUR_MS))].sort((a, b) => b - a),
  check: (input) => {
    if (!Array.isArray(input)) throw invalid(`reminders must be a list of hours before expiry, e.g. 72,24 (got ${got(input)})`);
    const hours = input.map((h) => {
      if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h > MAX_SETTING_HOURS)
        throw invalid(`each reminder must be a whole number of hours from 0 to ${MAX_SETTING_HOURS} before expiry (got ${got(h)})`);
      return h;
    });
    const unique = [...new Set(hours)].sort((a, b) => b - a);
    if (unique.length > MAX_REMINDERS) throw invalid(`at most ${MAX_REMINDERS} reminders (got ${unique.length})`);
    return unique;
  },
  fromText: (t) => {
    const text = t.trim();
    if (text.toLowerCase() === 'none') return [];
    if (!/^\d{1,9}(\s*,\s*\d{1,9})*$/.test(text)) return text;
    return text.split(',').map((h) => Number(h.trim()));
  },
  patch: (v) => ({ reminderOffsetsMs: v.map((h) => h * HOUR_MS) }),
  show: (v) => (v.length === 0 ? 'none' : `${v.join(',')} h before expiry`),
  toText: (v) => (v.length === 0 ? 'none' : v.join(',')),
};

const intruders: GroupSetting<IntruderPolicy> = {
  key: 'intruders',
  flag: 'intruders',
  valueHelp: '<report|remove|ignore>',
  description: 'what happens to people in the group without a right to be there (remove: only after your own dry run in chat)',
  label: 'intruder policy',
  read: (g) => g.intruderPolicy,
  check: (input) => {
    if (typeof input !== 'string' || !(INTRUDER_POLICIES as readonly string[]).includes(input))
      throw invalid(`intruder policy must be report, remove or ignore (got ${got(input)})`);
    return input as IntruderPolicy;
  },
  fromText: (t) => t.trim().toLowerCase(),
  patch: (v) => ({ intruderPolicy: v }),
  show: (v) => v,
  toText: (v) => v,
  choices: INTRUDER_POLICIES,
};

const refundWindowHours: GroupSetting<number> = {
  key: 'refundWindowHours',
  flag: 'refund-window-hours',
  valueHelp: '<n>',
  description: `hours after a paid period starts in which its member may get a refund with /refund (0 = off, up to ${MAX_SETTING_HOURS})`,
  label: 'refund window',
  read: (g) => g.refundWindowHours,
  check: (input) => wholeHours('refund window', input),
  fromText: numberFromText,
  patch: (v) => ({ refundWindowHours: v }),
  show: (v) => (v === 0 ? 'off' : `${v} h`),
  toText: String,
};

// Join review (issue 17): src/app/review.ts reads these.
const JOIN_MODES = ['auto', 'review', 'door'] as const;
const joinMode: GroupSetting<Group['joinMode']> = {
  key: 'joinMode',
  flag: 'join-mode',
  valueHelp: '<auto|review|door>',
  description:
    'auto: a payment lets the person in at once; review: the person waits for the rules and your decision; door (Telegram): strangers pay while asking to join, through the Mini App the bot opens',
  label: 'join mode',
  read: (g) => g.joinMode,
  check: (input) => {
    if (typeof input !== 'string' || !(JOIN_MODES as readonly string[]).includes(input))
      throw invalid(`join mode must be auto, review or door (got ${got(input)})`);
    return input as Group['joinMode'];
  },
  fromText: (t) => t.trim().toLowerCase(),
  patch: (v) => ({ joinMode: v }),
  show: (v) => v,
  toText: (v) => v,
  choices: JOIN_MODES,
};

/** The longest review window: 30 days. */
export const MAX_REVIEW_WINDOW_HOURS = 24 * 30;
const reviewWindowHours: GroupSetting<number | null> = {
  key: 'reviewWindowHours',
  flag: 'review-window-hours',
  valueHelp: '<n|default>',
  description: `hours a paid person waits for review, may amend answers and appeal, before the timeout action (1 to ${MAX_REVIEW_WINDOW_HOURS}; default: REVIEW_WINDOW_HOURS)`,
  label: 'review window',
  read: (g) => g.reviewWindowHours,
  check: (input) => {
    if (input === null || input === 'default') return null;
    if (typeof input !== 'number' || !Number.isInteger(input) || input < 1 || input > MAX_REVIEW_WINDOW_HOURS)
      throw invalid(`review window must be a whole number of hours from 1 to ${MAX_REVIEW_WINDOW_HOURS}, or default (got ${got(input)})`);
    return input;
  },
  fromText: (t) => (t.trim().toLowerCase() === 'default' ? null : numberFromText(t)),
  patch: (v) => ({ reviewWindowHours: v }),
  show: (v) => (v === null ? 'default' : `${v} h`),
  toText: (v) => (v === null ? 'default' : String(v)),
};

const reviewTimeoutAction: GroupSetting<Group['reviewTimeoutAction']> = {
  key: 'reviewTimeoutAction',
  flag: 'review-timeout-action',
  valueHelp: '<approve|refund>',
  description: 'what happens when nobody decided within the review window (default refund)',
  label: 'review timeout action',
  read: (g) => g.reviewTimeoutAction,
  check: (input) => {
    if (input !== 'approve' && input !== 'refund') throw invalid(`review timeout action must be approve or refund (got ${got(input)})`);
    return input;
  },
  fromText: (t) => t.trim().toLowerCase(),
  patch: (v) => ({ reviewTimeoutAction: v }),
  show: (v) => v,
  toText: (v) => v,
  choices: ['refund', 'approve'],
};

const ON = ['on', 'true', 'yes'];
const OFF = ['off', 'false', 'no'];
const onOff = (t: string) => (ON.includes(t.trim().toLowerCase()) ? true : OFF.includes(t.trim().toLowerCase()) ? false : t);
const flag = (key: 'autoApproveWhenRulesPass' | 'requireUsername', cliFlag: string, label: string, description: string): GroupSetting<boolean> => ({
  key,
  flag: cliFlag,
  valueHelp: '<on|off>',
  description,
  label,
  read: (g) => g[key],
  check: (input) => {
    if (typeof input !== 'boolean') throw invalid(`${label} must be on or off (true or false; got ${got(input)})`);
    return input;
  },
  fromText: onOff,
  patch: (v) => ({ [key]: v }),
  show: (v) => (v ? 'on' : 'off'),
  toText: (v) => (v ? 'on' : 'off'),
  choices: ['on', 'off'],
});
const autoApproveWhenRulesPass = flag(
  'autoApproveWhenRulesPass',
  'auto-approve-when-rules-pass',
  'auto-approve when rules pass',
  'review groups: approve at once when the blacklist, payment and profile rules all pass (default off: you decide)',
);
const requireUsername = flag(
  'requireUsername',
  'require-username',
  'require a username',
  'review groups: the profile rule asks a Telegram member for a @username',
);

// Referral rewards (issue 16): src/app/referrals.ts reads it through rewardDaysOf.
const referralRewardDays: GroupSetting<number | null> = {
  key: 'referralRewardDays',
  flag: 'referral-reward-days',
  valueHelp: '<n|default>',
  description: `days a member earns in this group when someone they invited pays here (0 = off, up to ${MAX_REFERRAL_REWARD_DAYS}; default: REFERRAL_REWARD_DAYS)`,
  label: 'referral reward',
  read: (g) => g.referralRewardDays,
  check: (input) => {
    if (input === null || input === 'default') return null;
    if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > MAX_REFERRAL_REWARD_DAYS)
      throw invalid(`referral reward must be a whole number of days from 0 to ${MAX_REFERRAL_REWARD_DAYS}, or default (got ${got(input)})`);
    return input;
  },
  fromText: (t) => (t.trim().toLowerCase() === 'default' ? null : numberFromText(t)),
  patch: (v) => ({ referralRewardDays: v }),
  show: (v) => (v === null ? 'default' : v === 0 ? 'off' : `${v} days`),
  toText: (v) => (v === null ? 'default' : String(v)),
};

// Win-back (issue 16 part 4): src/app/coupons.ts sweepWinbacks reads these. Off unless both are set.
/** The latest a win-back offer may come after a lapse. */
export const MAX_WINBACK_DAYS = 365;
const winbackDays: GroupSetting<number> = {
  key: 'winbackDays',
  flag: 'winback-days',
  valueHelp: '<n>',
  description: `days after a member lapses to send them one personal single-use coupon valid a week (0 = off; 1 to ${MAX_WINBACK_DAYS}; needs --winback-percent)`,
  label: 'win-back days',
  read: (g) => g.winbackDays,
  check: (input) => {
    if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > MAX_WINBACK_DAYS)
      throw invalid(`win-back days must be a whole number of days from 0 to ${MAX_WINBACK_DAYS} (got ${got(input)})`);
    return input;
  },
  fromText: numberFromText,
  patch: (v) => ({ winbackDays: v }),
  show: (v) => (v === 0 ? 'off' : `${v} days after a lapse`),
  toText: String,
};
const winbackPercent: GroupSetting<number> = {
  key: 'winbackPercent',
  flag: 'winback-percent',
  valueHelp: '<n>',
  description: 'percent off of the win-back coupon (1 to 100; 0 = off)',
  label: 'win-back percent',
  read: (g) => g.winbackPercent,
  check: (input) => {
    if (typeof input !== 'number' || !Number.isInteger(input) || input < 0 || input > 100)
      throw invalid(`win-back percent must be a whole number from 0 to 100 (got ${got(input)})`);
    return input;
  },
  fromText: numberFromText,
  patch: (v) => ({ winbackPercent: v }),
  show: (v) => (v === 0 ? 'off' : `${v} %`),
  toText: String,
};

/** Every setting `group set` and `PATCH /api/groups/:id` change, in the order they are shown. */
export const SETTINGS: ReadonlyArray<GroupSetting<unknown>> = [
  graceHours,
  reminders,
  intruders,
  refundWindowHours,
  joinMode,
  reviewWindowHours,
  reviewTimeoutAction,
  autoApproveWhenRulesPass,
  requireUsername,
  referralRewardDays,
  winbackDays,
  winbackPercent,
] as ReadonlyArray<GroupSetting<unknown>>;

/** The group's settings as the group view shows them ({graceHours, reminders, intruders, refundWindowHours}). */
export function settingsOf(g: Group): Record<string, unknown> {
  return Object.fromEntries(SETTINGS.map((s) => [s.key, s.read(g)]));
}

/** The settings in one line ("grace hours 24 h, reminders 72,24 h before expiry, …"). */
export const describeSettings = (g: Group) => SETTINGS.map((s) => `${s.label} ${s.show(s.read(g))}`).join(', ');

/**
 * Changes some of a group's settings: an owner of the group (or an admin), every value checked before
 * anything is written (a bad one changes nothing), one transaction with one audit entry naming what
 * changed from what to what. Values equal to the current ones are no change; with no change at all nothing
 * is written. `changes` is keyed by SETTINGS' keys; an unknown key is refused.
 */
export async function updateGroupSettings(deps: AppDeps, input: { actor: Actor; groupId: number; changes: Record<string, unknown> }): Promise<Group> {
  const given = Object.entries(input.changes).filter(([, v]) => v !== undefined);
  const known = new Map(SETTINGS.map((s) => [s.key, s]));
  const unknown = given.find(([k]) => !known.has(k));
  if (unknown) throw invalid(`unknown group setting ${got(unknown[0])} (${SETTINGS.map((s) => s.key).join(', ')})`);
  if (given.length === 0) throw invalid(`nothing to change: give at least one of ${SETTINGS.map((s) => s.key).join(', ')}`);
  const group = Number.isSafeInteger(input.groupId) ? await deps.store.groups.get(input.groupId) : null;
  if (!group) throw notFound(`no group with id ${String(input.groupId)}`);
  await assertOwnerOf(deps.store, input.actor, group);
  const values = given.map(([k, v]) => {
    const setting = known.get(k)!;
    return { setting, from: setting.read(group), to: setting.check(v) };
  });
  const changed = values.filter((c) => JSON.stringify(c.from) !== JSON.stringify(c.to));
  // Pay at the door needs Telegram's join-request queries and an HTTPS address for its Mini App (app/door.ts).
  if (changed.some((c) => c.setting === (joinMode as GroupSetting<unknown>) && c.to === 'door')) checkDoor(deps, group);
  let reportId: number | null = null;
  const policy = changed.find((c) => c.setting === (intruders as GroupSetting<unknown>));
  if (policy) {
    // The intruder policy's own rule lives in roster.ts, whichever way the policy is set.
    const gate = await intruderPolicyGate(deps, input.actor, group, policy.to as IntruderPolicy);
    if (!gate.allowed)
      throw conflict(`intruder policy remove needs a dry run you saw within 24 hours: send /intruders ${group.id} to the bot in chat first; nothing changed`);
    reportId = gate.report?.id ?? null;
  }
  if (changed.length === 0) return group;
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const patch = Object.assign({}, ...changed.map((c) => c.setting.patch(c.to))) as GroupSettingsPatch;
    const updated = await tx.groups.updateSettings(group.id, patch);
    if (!updated) throw notFound(`no group with id ${group.id}`);
    const reason = changed.map((c) => `${c.setting.label} ${c.setting.show(c.from)} → ${c.setting.show(c.to)}`).join('; ');
    await tx.audit.insert(
      groupAudit(now, actorLabel(input.actor), group, 'group.settings', `${reason}${reportId !== null ? ` (after dry-run report #${reportId})` : ''}`, {
        from: Object.fromEntries(changed.map((c) => [c.setting.key, c.from])),
        to: Object.fromEntries(changed.map((c) => [c.setting.key, c.to])),
        ...(reportId !== null ? { reportId } : {}),
      }),
    );
    return updated;
  });
}
