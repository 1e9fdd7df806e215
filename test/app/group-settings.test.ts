// updateGroupSettings (src/app/group-settings.ts): the one way to change a group's settings after it exists,
// for the CLI's `group set`, the admin API's PATCH /api/groups/:id and owner chat commands. Each bad value
// is refused with one line and changes nothing; a change is one audit entry naming from what to what.
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { describeSettings, SETTINGS, settingsOf, updateGroupSettings } from '../../src/app/group-settings.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import { recordDryRun } from '../../src/app/roster.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

async function owner(deps: AppDeps, userId: string, groupIds?: number[]) {
  const { code } = await createClaimCode(deps, admin, groupIds);
  const a = await redeemClaimCode(deps, { platform: 'playground', userId, displayName: userId, code });
  return { kind: 'account', accountId: a.id } as Actor;
}

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  expect((e as DomainError).message).not.toMatch(/[\r\n]/);
  return e as DomainError;
}

describe.each(DIALECTS)('group settings (%s)', (dialect) => {
  const it = serviceTest(dialect, { GRACE_HOURS: '24', REMINDER_OFFSETS_HOURS: '72,24,0' });

  it('changes the settings given, keeps the others, and writes one audit entry naming what changed from what to what', async ({ deps }) => {
    const g = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Readers', actor: admin });
    expect(settingsOf(g)).toEqual({
      graceHours: 24,
      reminders: [72, 24, 0],
      intruders: 'report',
      refundWindowHours: 0,
      joinMode: 'auto',
      reviewWindowHours: null,
      reviewTimeoutAction: 'refund',
      autoApproveWhenRulesPass: false,
      requireUsername: false,
      referralRewardDays: null,
      winbackDays: 0,
      winbackPercent: 0,
    });

    const updated = await updateGroupSettings(deps, {
      actor: admin,
      groupId: g.id,
      changes: { graceHours: 48, reminders: [24, 72, 24], refundWindowHours: 72 },
    });
    expect(settingsOf(updated)).toEqual({
      graceHours: 48,
      reminders: [72, 24],
      intruders: 'report',
      refundWindowHours: 72,
      joinMode: 'auto',
      reviewWindowHours: null,
      reviewTimeoutAction: 'refund',
      autoApproveWhenRulesPass: false,
      requireUsername: false,
      referralRewardDays: null,
      winbackDays: 0,
      winbackPercent: 0,
    });
    const stored = (await deps.store.groups.get(g.id))!;
    expect(stored.graceMs).toBe(48 * HOUR_MS);
    expect(stored.reminderOffsetsMs).toEqual([72 * HOUR_MS, 24 * HOUR_MS]);
    expect(stored.refundWindowHours).toBe(72);
    expect(describeSettings(stored)).toBe(
      'grace hours 48 h, reminders 72,24 h before expiry, intruder policy report, refund window 72 h, join mode auto, review window default, review timeout action refund, auto-approve when rules pass off, require a username off, referral reward default, win-back days off, win-back percent off',
    );

    const audit = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(g.id) })).filter((a) => a.action === 'group.settings');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('admin:cli');
    expect(audit[0]!.reason).toBe('grace hours 24 h → 48 h; reminders 72,24,0 h before expiry → 72,24 h before expiry; refund window off → 72 h');
    expect(audit[0]!.detail).toEqual({
      from: { graceHours: 24, reminders: [72, 24, 0], refundWindowHours: 0 },
      to: { graceHours: 48, reminders: [72, 24], refundWindowHours: 72 },
    });

    // The same values again: no change, nothing written. No reminders at all is a setting too.
    await updateGroupSettings(deps, { actor: admin, groupId: g.id, changes: { graceHours: 48 } });
    await updateGroupSettings(deps, { actor: admin, groupId: g.id, changes: { reminders: [], intruders: 'ignore' } });
    const after = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(g.id) })).filter((a) => a.action === 'group.settings');
    expect(after.map((a) => a.reason)).toEqual([audit[0]!.reason, 'reminders 72,24 h before expiry → none; intruder policy report → ignore']);
    expect(settingsOf((await deps.store.groups.get(g.id))!)).toEqual({
      graceHours: 48,
      reminders: [],
      intruders: 'ignore',
      refundWindowHours: 72,
      joinMode: 'auto',
      reviewWindowHours: null,
      reviewTimeoutAction: 'refund',
      autoApproveWhenRulesPass: false,
      requireUsername: false,
      referralRewardDays: null,
      winbackDays: 0,
      winbackPercent: 0,
    });
  });

  it('bad values: one clear line each, and nothing changes (not even the good values given with them)', async ({ deps }) => {
    const g = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Readers', actor: admin });
    const before = settingsOf(g);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [
        {},
        'invalid_input',
        /^nothing to change: give at least one of graceHours, reminders, intruders, refundWindowHours, joinMode, reviewWindowHours, reviewTimeoutAction, autoApproveWhenRulesPass, requireUsername, referralRewardDays, winbackDays, winbackPercent$/,
      ],
      [{ graceHours: -1 }, 'invalid_input', /^grace hours must be a whole number of hours from 0 to 720 \(got "-1"\)$/],
      [{ graceHours: 721, refundWindowHours: 72 }, 'invalid_input', /^grace hours must be a whole number of hours from 0 to 720/],
      [{ graceHours: 1.5 }, 'invalid_input', /^grace hours must be/],
      [{ graceHours: 'abc' }, 'invalid_input', /\(got "abc"\)$/],
      [{ refundWindowHours: 72, reminders: '72,24' }, 'invalid_input', /^reminders must be a list of hours before expiry/],
      [{ reminders: [72, -1] }, 'invalid_input', /^each reminder must be a whole number of hours from 0 to 720 before expiry \(got "-1"\)$/],
      [{ reminders: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }, 'invalid_input', /^at most 10 reminders \(got 11\)$/],
      [{ intruders: 'kick' }, 'invalid_input', /^intruder policy must be report, remove or ignore \(got "kick"\)$/],
      [{ refundWindowHours: 10_000 }, 'invalid_input', /^refund window must be a whole number of hours from 0 to 720/],
      [{ joinMode: 'manual' }, 'invalid_input', /^join mode must be auto, review or door \(got "manual"\)$/],
      [{ referralRewardDays: 366 }, 'invalid_input', /^referral reward must be a whole number of days from 0 to 365, or default \(got "366"\)$/],
      [{ referralRewardDays: -1, graceHours: 2 }, 'invalid_input', /^referral reward must be a whole number of days from 0 to 365, or default/],
      // Pay at the door needs Telegram's join-request queries (this is a playground group).
      [{ joinMode: 'door', graceHours: 2 }, 'invalid_input', /^join mode door needs Telegram's join-request queries; group \d+ is a playground group/],
    ];
    for (const [changes, code, line] of cases) {
      const e = await refusal(updateGroupSettings(deps, { actor: admin, groupId: g.id, changes }));
      expect(e.code, JSON.stringify(changes)).toBe(code);
      expect(e.message, JSON.stringify(changes)).toMatch(line);
    }
    expect((await refusal(updateGroupSettings(deps, { actor: admin, groupId: 999, changes: { graceHours: 1 } }))).code).toBe('not_found');
    expect(settingsOf((await deps.store.groups.get(g.id))!)).toEqual(before);
    expect((await deps.store.audit.list({ subjectType: 'group', subjectId: String(g.id) })).filter((a) => a.action === 'group.settings')).toEqual([]);
  });

  it('join mode door: refused on a WeChat group and without an HTTPS PUBLIC_URL, one clear line, nothing changed', async ({ deps }) => {
    const wechat = await addGroup(deps, { platform: 'wechat', chatId: 'room@chatroom', title: 'Weixin', actor: admin });
    const e = await refusal(updateGroupSettings(deps, { actor: admin, groupId: wechat.id, changes: { joinMode: 'door' } }));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toBe(`join mode door needs Telegram's join-request queries; group ${wechat.id} is a wechat group (use auto or review)`);
    const tg = await addGroup(deps, { platform: 'telegram', chatId: '-100777', title: 'Telegram', actor: admin });
    const e2 = await refusal(updateGroupSettings(deps, { actor: admin, groupId: tg.id, changes: { joinMode: 'door' } }));
    expect(e2.message).toMatch(/^join mode door needs PUBLIC_URL to be an https:\/\/ address/);
    const https = { ...deps, settings: { ...deps.settings, publicUrl: 'https://gk.example' } };
    expect((await updateGroupSettings(https, { actor: admin, groupId: tg.id, changes: { joinMode: 'door' } })).joinMode).toBe('door');
    expect((await deps.store.groups.get(wechat.id))!.joinMode).toBe('auto');
  });

  it('owners act on their own groups only; intruder policy remove keeps its rule (only after the owner’s own dry run)', async ({ deps }) => {
    const mine = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Mine', actor: admin });
    const theirs = await addGroup(deps, { platform: 'playground', chatId: 'room-2', title: 'Theirs', actor: admin });
    const olga = await owner(deps, 'olga', [mine.id]);
    const stranger = {
      kind: 'account',
      accountId: (await deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'eve' }, deps.clock.now())).id,
    } as Actor;

    expect((await refusal(updateGroupSettings(deps, { actor: olga, groupId: theirs.id, changes: { graceHours: 1 } }))).message).toMatch(
      /^group \d+ is not one of your groups/,
    );
    expect((await refusal(updateGroupSettings(deps, { actor: stranger, groupId: mine.id, changes: { graceHours: 1 } }))).code).toBe('forbidden');
    expect((await updateGroupSettings(deps, { actor: olga, groupId: mine.id, changes: { graceHours: 2 } })).graceMs).toBe(2 * HOUR_MS);

    // `remove` without a dry run: refused, whoever asks, and the other values given with it are not written.
    for (const actor of [admin, olga]) {
      const e = await refusal(updateGroupSettings(deps, { actor, groupId: mine.id, changes: { intruders: 'remove', graceHours: 5 } }));
      expect(e.code).toBe('conflict');
      expect(e.message).toBe(
        `intruder policy remove needs a dry run you saw within 24 hours: send /intruders ${mine.id} to the bot in chat first; nothing changed`,
      );
    }
    expect(settingsOf((await deps.store.groups.get(mine.id))!)).toMatchObject({ graceHours: 2, intruders: 'report' });
    const report = await recordDryRun(deps, olga, mine, []);
    const set = await updateGroupSettings(deps, { actor: olga, groupId: mine.id, changes: { intruders: 'remove' } });
    expect(set.intruderPolicy).toBe('remove');
    const last = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(mine.id) })).filter((a) => a.action === 'group.settings').at(-1)!;
    expect(last.reason).toBe(`intruder policy report → remove (after dry-run report #${report.id})`);
    expect(last.detail).toEqual({ from: { intruders: 'report' }, to: { intruders: 'remove' }, reportId: report.id });
  });
});

// The console's settings form (src/http/console/pages/groups.ts) shows each value as `toText` writes it and
// reads it back through `fromText` and `check`, offering `choices` where a setting has them.
describe('each setting reads back what it writes as text', () => {
  const values: Record<string, unknown[]> = {
    graceHours: [0, 24, 720],
    reminders: [[], [72, 24, 0]],
    intruders: ['report', 'remove', 'ignore'],
    refundWindowHours: [0, 48],
    joinMode: ['auto', 'review', 'door'],
    reviewWindowHours: [null, 1, 72],
    reviewTimeoutAction: ['approve', 'refund'],
    autoApproveWhenRulesPass: [true, false],
    requireUsername: [true, false],
    referralRewardDays: [null, 0, 7],
    winbackDays: [0, 30],
    winbackPercent: [0, 100],
  };
  it.each(SETTINGS.map((s) => [s.key, s] as const))('%s', (key, s) => {
    expect(values[key], `add sample values for ${key} here`).toBeDefined();
    for (const v of values[key]!) expect(s.check(s.fromText(s.toText(v)))).toEqual(v);
    for (const c of s.choices ?? []) expect(s.toText(s.check(s.fromText(c)))).toBe(c);
  });
});
