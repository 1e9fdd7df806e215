// The admin CLI commands beyond the basics (owner claim, group/plan/member/order admin, backup,
// export), run in-process against SQLite and, when TEST_POSTGRES_URL is set, PostgreSQL. Paid members
// and orders are put in through the store port and the use cases, the way the service would.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { testSchemaName } from './helpers/schema-name.ts';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, ensureDist } from './helpers/dist.ts';
import { systemClock } from '../src/app/clocks.ts';
import type { AppDeps } from '../src/app/deps.ts';
import type { Order } from '../src/app/model.ts';
import { disablePlan } from '../src/app/catalog-admin.ts';
import { createClaimCode, redeemClaimCode } from '../src/app/owners.ts';
import type { Store } from '../src/app/ports.ts';
import { confirmRefund } from '../src/app/refunds.ts';
import { holdForReview } from '../src/app/review.ts';
import { csvCell } from '../src/cli.ts';
import { createCatalog } from '../src/conversation/catalog.ts';
import { DAY_MS } from '../src/domain/time.ts';
import { openDatabase, type OpenedDatabase } from '../src/store/database.ts';
import { createStore } from '../src/store/kysely-store.ts';
import { cli, exec } from './helpers/cli.ts';
import { PG_URL } from './helpers/db.ts';

/** A new group's settings under the test environment's defaults (GRACE_HOURS, REMINDER_OFFSETS_HOURS). */
const DEFAULT_SETTINGS = {
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
};

/** A failing command: the exit code and one line, nothing on stdout. */
async function fails(args: string[], env: Record<string, string>, code: number, line: RegExp) {
  const r = await cli(args, env);
  expect(r.code, args.join(' ')).toBe(code);
  expect(r.err, args.join(' ')).toMatch(line);
  expect(r.err).not.toMatch(/[\r\n]/);
  expect(r.out).toBe('');
  return r;
}

/** RFC 4180 reader, written independently of the CLI's writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cellText = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cellText += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cellText += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cellText);
      cellText = '';
    } else if (c === '\n') {
      row.push(cellText);
      rows.push(row);
      row = [];
      cellText = '';
    } else if (c !== '\r') cellText += c;
  }
  if (cellText !== '' || row.length > 0) {
    row.push(cellText);
    rows.push(row);
  }
  return rows;
}

type Target = { env: Record<string, string>; url: string; cleanup: () => Promise<void> };

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gk-cli-admin-'));
      return { env: { DATA_DIR: dir }, url: `sqlite:${join(dir, 'gatekeeper.db')}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];
if (PG_URL) {
  targets.push([
    'postgres',
    async () => {
      const schema = testSchemaName('cli');
      const url = new URL(PG_URL!);
      url.searchParams.set('schema', schema);
      return {
        env: { DATABASE_URL: url.toString() },
        url: url.toString(),
        // Dropped with the run's other test schemas (test/global-setup.ts).
        cleanup: async () => {},
      };
    },
  ]);
}

// The bin runs the compiled CLI (dist/), built here once when stale rather than inside a test's time limit.
beforeAll(ensureDist, DIST_TIMEOUT);

describe.each(targets)('gatekeeper admin CLI (%s)', (dialect, setup) => {
  let env: Record<string, string>;
  let url: string;
  let cleanup: () => Promise<void>;
  let opened: OpenedDatabase;
  let store: Store;
  let deps: AppDeps;
  const files: string[] = [];

  beforeEach(async () => {
    ({ env, url, cleanup } = await setup());
    const m = await cli(['migrate'], env);
    expect(m.err).toBe('');
    // A second connection to the same database, like the running service next to the CLI.
    opened = await openDatabase(url);
    store = createStore(opened);
    deps = {
      store,
      clock: systemClock,
      providers: new Map(),
      gateways: new Map(),
      messages: createCatalog({ defaultLocale: 'en', timeZone: 'UTC' }),
      logger: { info: () => {}, warn: () => {}, error: () => {} },
      settings: {
        publicUrl: 'http://localhost:3000',
        orderTtlMs: 15 * 60_000,
        defaultGraceMs: DAY_MS,
        defaultReminderOffsetsMs: [],
        defaultLocale: 'en',
        tzDisplay: 'UTC',
      },
    };
  });
  afterEach(async () => {
    await opened.close();
    await cleanup();
    for (const f of files.splice(0)) rmSync(f, { recursive: true, force: true });
  });

  const json = async (args: string[]) => {
    const r = await cli([...args, '--json'], env);
    expect(r.err, args.join(' ')).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.out);
  };

  /** Two playground groups and a plan for each. */
  async function catalog() {
    for (const [chat, title] of [
      ['room-a', 'Readers'],
      ['room-b', 'Writers'],
    ] as const) {
      await json(['group', 'add', '--platform', 'playground', '--chat', chat, '--title', title]);
    }
    await json(['plan', 'add', '--group', '1', '--name', 'Monthly', '--price', '9.90', '--currency', 'CNY', '--days', '30']);
    await json(['plan', 'add', '--group', '2', '--name', 'Yearly', '--price', '99', '--currency', 'CNY', '--days', '365']);
  }

  async function member(
    userId: string,
    groupId: number,
    status: 'active' | 'grace' | 'expired' | 'revoked' | 'banned',
    expiresInDays: number,
    displayName: string | null = null,
  ) {
    const now = Date.now();
    const account = await store.accounts.upsert({ platform: 'playground', platformUserId: userId, displayName }, now);
    const m = await store.memberships.insert({ accountId: account.id, groupId, status, expiresAt: now + expiresInDays * DAY_MS }, now);
    return { accountId: account.id, membershipId: m.id };
  }

  async function order(id: string, accountId: number, status: Order['status'], createdAt: number): Promise<Order> {
    const o: Order = {
      id,
      outTradeNo: randomBytes(16).toString('hex'),
      accountId,
      planId: 1,
      amountMinor: 990,
      currency: 'CNY',
      provider: 'dev',
      status,
      createdAt,
      updatedAt: createdAt,
      expiresAt: createdAt + 15 * 60_000,
      paidAt: status === 'pending' ? null : createdAt + 1000,
      providerTxnId: status === 'pending' ? null : `txn-${id}`,
      reviewReason: null,
      checkoutQr: null,
      checkoutUrl: null,
      outRefundNo: null,
      refundReason: null,
      refundedAt: null,
    };
    await store.orders.insert(o);
    return o;
  }

  it('owner claim prints a one-time code and how to use it; the code works', async () => {
    const text = await cli(['owner', 'claim'], env);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^claim-[0-9a-f]{32}\nSend this code to the bot in a private chat within 24 hours/);
    const c = await json(['owner', 'claim']);
    expect(Object.keys(c).sort()).toEqual(['code', 'expiresAt', 'groupIds']);
    expect(c.groupIds).toBeNull();
    expect(c.code).toMatch(/^claim-[0-9a-f]{32}$/);
    const ttl = Date.parse(c.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(23.9 * 3_600_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3_600_000);
    const owner = await redeemClaimCode(deps, { platform: 'telegram', userId: '42', code: c.code });
    expect(owner.isOwner).toBe(true);
    expect((await store.audit.page({ action: 'owner.claim_create', limit: 10 })).map((e) => e.actor)).toEqual(['admin:cli', 'admin:cli']);
    await fails(['owner', 'claim', 'extra'], env, 2, /Unexpected argument 'extra'/);
  });

  it('owner claim --group: a code for those groups only; a group that does not exist is refused and nothing is created', async () => {
    await catalog();
    const claims = async () => (await opened.db.selectFrom('owner_claims').select('id').execute()).length;
    await fails(['owner', 'claim', '--group', '999'], env, 1, /^no group with id 999$/);
    await fails(['owner', 'claim', '--group', '1', '--group', '999'], env, 1, /^no group with id 999$/);
    await fails(['owner', 'claim', '--group', 'one'], env, 1, /^--group must be a positive whole number \(got "one"\)$/);
    await fails(['owner', 'claim', '--group'], env, 2, /argument missing/);
    expect(await claims()).toBe(0);
    expect((await store.audit.page({ action: 'owner.claim_create', limit: 10 })).length).toBe(0);

    const both = await json(['owner', 'claim', '--group', '2', '--group', '1', '--group', '2']);
    expect(both.groupIds).toEqual([1, 2]);
    const text = await cli(['owner', 'claim', '--group', '1'], env);
    expect(text.out).toMatch(/becomes an owner of group 1 only\.$/);
    const scoped = await redeemClaimCode(deps, { platform: 'playground', userId: 'reader-owner', code: text.out.split('\n')[0]! });
    expect(await store.ownerScopes.get(scoped.id)).toEqual({ all: false, groupIds: [1] });
    const operatorText = await cli(['owner', 'claim'], env);
    expect(operatorText.out).toMatch(/becomes an owner of every group \(an operator\)\.$/);
    const operator = await redeemClaimCode(deps, { platform: 'playground', userId: 'operator', code: operatorText.out.split('\n')[0]! });
    expect(await store.ownerScopes.get(operator.id)).toEqual({ all: true, groupIds: [] });
    expect((await store.audit.page({ action: 'owner.claim_redeem', limit: 10 })).map((e) => e.reason)).toEqual([
      'redeemed an operator claim code (every group)',
      'redeemed an owner claim code for group 1',
    ]);
  });

  it('group set: changes the settings given and prints them; --json prints the group; the audit names what changed', async () => {
    await catalog();
    const text = await cli(['group', 'set', '1', '--grace-hours', '48', '--reminders', '72, 24', '--refund-window-hours', '72'], env);
    expect(text.err).toBe('');
    expect(text.out).toBe(
      'group 1 "Readers": grace hours 48 h, reminders 72,24 h before expiry, intruder policy report, refund window 72 h, join mode auto, review window default, review timeout action refund, auto-approve when rules pass off, require a username off, referral reward default, win-back days off, win-back percent off',
    );
    expect(await json(['group', 'set', '1', '--intruders', 'ignore', '--reminders', 'none'])).toEqual({
      id: 1,
      platform: 'playground',
      chatId: 'room-a',
      title: 'Readers',
      ownerAccountId: null,
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
    expect((await json(['group', 'list']))[1]).toMatchObject(DEFAULT_SETTINGS);
    const audit = (await store.audit.list({ subjectType: 'group', subjectId: '1' })).filter((a) => a.action === 'group.settings');
    expect(audit.map((a) => [a.actor, a.reason])).toEqual([
      ['admin:cli', 'grace hours 24 h → 48 h; reminders 72,24,0 h before expiry → 72,24 h before expiry; refund window off → 72 h'],
      ['admin:cli', 'reminders 72,24 h before expiry → none; intruder policy report → ignore'],
    ]);
    const help = await cli(['group', 'set', '--help'], env);
    expect(help.out).toMatch(
      /^Usage: gatekeeper group set <group-id> \[--grace-hours <n>\] \[--reminders <hours,…>\] \[--intruders <report\|remove\|ignore>\] \[--refund-window-hours <n>\] \[--join-mode <auto\|review\|door>\] \[--review-window-hours <n\|default>\] \[--review-timeout-action <approve\|refund>\] \[--auto-approve-when-rules-pass <on\|off>\] \[--require-username <on\|off>\] \[--referral-reward-days <n\|default>\] \[--winback-days <n>\] \[--winback-percent <n>\] \[--json\]/,
    );
  });

  it('group set: the join review settings (issue 17)', async () => {
    await catalog();
    const g = await json([
      'group',
      'set',
      '1',
      '--join-mode',
      'review',
      '--review-window-hours',
      '48',
      '--review-timeout-action',
      'approve',
      '--auto-approve-when-rules-pass',
      'on',
      '--require-username',
      'yes',
    ]);
    expect(g).toMatchObject({
      joinMode: 'review',
      reviewWindowHours: 48,
      reviewTimeoutAction: 'approve',
      autoApproveWhenRulesPass: true,
      requireUsername: true,
    });
    expect((await json(['group', 'set', '1', '--review-window-hours', 'default'])).reviewWindowHours).toBeNull();
    // Referral rewards (issue 16): days per referred payer in this group, 0 = off, default = REFERRAL_REWARD_DAYS.
    expect((await json(['group', 'set', '1', '--referral-reward-days', '14'])).referralRewardDays).toBe(14);
    expect((await json(['group', 'set', '1', '--referral-reward-days', 'default'])).referralRewardDays).toBeNull();
  });

  it('group set: bad input gets one line and changes nothing', async () => {
    await catalog();
    await fails(
      ['group', 'set', '1'],
      env,
      2,
      /^nothing to change: give at least one of --grace-hours, --reminders, --intruders, --refund-window-hours, --join-mode, --review-window-hours, --review-timeout-action, --auto-approve-when-rules-pass, --require-username, --referral-reward-days, --winback-days, --winback-percent$/,
    );
    await fails(['group', 'set'], env, 2, /^missing <group-id>$/);
    await fails(['group', 'set', '9', '--grace-hours', '1'], env, 1, /^no group with id 9$/);
    await fails(['group', 'set', 'one', '--grace-hours', '1'], env, 1, /^group id must be a positive whole number \(got "one"\)$/);
    await fails(['group', 'set', '1', '--grace-hours', 'lots'], env, 1, /^grace hours must be a whole number of hours from 0 to 720 \(got "lots"\)$/);
    await fails(
      ['group', 'set', '1', '--grace-hours', '1', '--reminders', '72;24'],
      env,
      1,
      /^reminders must be a list of hours before expiry, e\.g\. 72,24 \(got "72;24"\)$/,
    );
    await fails(['group', 'set', '1', '--refund-window-hours', '721'], env, 1, /^refund window must be a whole number of hours from 0 to 720 \(got "721"\)$/);
    await fails(['group', 'set', '1', '--intruders', 'kick'], env, 1, /^intruder policy must be report, remove or ignore \(got "kick"\)$/);
    await fails(
      ['group', 'set', '1', '--intruders', 'remove'],
      env,
      1,
      /^intruder policy remove needs a dry run you saw within 24 hours: send \/intruders 1 to the bot in chat first; nothing changed$/,
    );
    await fails(['group', 'set', '1', '--join-mode', 'manual'], env, 1, /^join mode must be auto, review or door \(got "manual"\)$/);
    await fails(
      ['group', 'set', '1', '--review-window-hours', '0'],
      env,
      1,
      /^review window must be a whole number of hours from 1 to 720, or default \(got "0"\)$/,
    );
    await fails(['group', 'set', '1', '--review-timeout-action', 'ban'], env, 1, /^review timeout action must be approve or refund \(got "ban"\)$/);
    await fails(['group', 'set', '1', '--require-username', 'maybe'], env, 1, /^require a username must be on or off \(true or false; got "maybe"\)$/);
    await fails(
      ['group', 'set', '1', '--referral-reward-days', 'week'],
      env,
      1,
      /^referral reward must be a whole number of days from 0 to 365, or default \(got "week"\)$/,
    );
    await fails(['group', 'set', '1', '--grace-hours'], env, 2, /argument missing/);
    expect((await json(['group', 'list']))[0]).toMatchObject(DEFAULT_SETTINGS);
    expect((await store.audit.list({ subjectType: 'group', subjectId: '1' })).filter((a) => a.action === 'group.settings')).toEqual([]);
  });

  it('member approve and member reject decide a join review from the CLI (issue 17)', async () => {
    await catalog();
    await json(['group', 'set', '1', '--join-mode', 'review']);
    const plan = (await store.plans.get(1))!;
    const groups = [(await store.groups.get(1))!];
    /** A paid order of `userId` held for review, as confirm-payment does it. */
    const waiting = async (userId: string, orderId: string) => {
      const { accountId } = await member(userId, 1, 'expired', -40);
      const o = await order(orderId, accountId, 'paid', Date.now());
      await store.transaction((tx) => holdForReview(deps, tx, o, plan, groups, 'provider:dev', Date.now()));
      return (await store.memberships.list({ accountId }))[0]!.id;
    };
    const alice = await waiting('alice', 'reviewOrder00000000001');
    const bob = await waiting('bob', 'reviewOrder00000000002');
    expect((await json(['member', 'list', '--status', 'awaiting_review'])).map((m: { membershipId: number }) => m.membershipId)).toEqual([alice, bob]);
    expect(await json(['member', 'approve', String(alice)])).toMatchObject({ status: 'approved', orderId: 'reviewOrder00000000001' });
    expect((await store.memberships.get(alice))!.status).toBe('active');
    expect(await json(['member', 'reject', String(bob), '--reason', 'not a club member'])).toMatchObject({ status: 'rejected', reason: 'not a club member' });
    expect((await store.memberships.get(bob))!.status).toBe('revoked');
    expect((await store.orders.get('reviewOrder00000000002'))!.status).toBe('refund_pending');
    // Decided already: one line, nothing changes.
    const again = await cli(['member', 'approve', String(bob)], env);
    expect(again.code).toBe(1);
    expect(again.err).not.toMatch(/[\r\n]./);
    expect((await store.memberships.get(bob))!.status).toBe('revoked');
    expect(await json(['member', 'list', '--status', 'awaiting_review'])).toEqual([]);
  });

  it('group list, plan list and plan disable', async () => {
    expect((await cli(['group', 'list'], env)).out).toBe('no groups');
    expect((await cli(['plan', 'list'], env)).out).toBe('no plans');
    await catalog();
    expect(await json(['group', 'list'])).toEqual([
      { id: 1, platform: 'playground', chatId: 'room-a', title: 'Readers', ownerAccountId: null, ...DEFAULT_SETTINGS },
      { id: 2, platform: 'playground', chatId: 'room-b', title: 'Writers', ownerAccountId: null, ...DEFAULT_SETTINGS },
    ]);
    expect((await cli(['group', 'list'], env)).out).toBe('1\tplayground\troom-a\tReaders\tno owner\n2\tplayground\troom-b\tWriters\tno owner');
    expect((await json(['plan', 'list'])).map((p: { id: number }) => p.id)).toEqual([1, 2]);
    expect(await json(['plan', 'list', '--group', '2'])).toEqual([
      {
        id: 2,
        name: 'Yearly',
        priceMinor: 9900,
        price: '99.00',
        currency: 'CNY',
        days: 365,
        starsPrice: null,
        recurring: false,
        trialDays: 0,
        active: true,
        groupIds: [2],
      },
    ]);

    const d = await cli(['plan', 'disable', '1', '--reason', 'summer sale over'], env);
    expect(d.code).toBe(0);
    expect(d.out).toBe('plan 1 disabled: "Monthly" is no longer on sale; memberships already paid for are not affected');
    expect((await store.plans.get(1))!.active).toBe(false);
    const audit = await store.audit.list({ subjectType: 'plan', subjectId: '1' });
    expect(audit.filter((e) => e.action === 'plan.disable')).toMatchObject([{ actor: 'admin:cli', reason: 'summer sale over' }]);
    expect((await cli(['plan', 'list'], env)).out).toBe('1\tMonthly\t9.90 CNY\t30 days\tdisabled\tgroups 1\n2\tYearly\t99.00 CNY\t365 days\ton sale\tgroups 2');
    expect(await json(['plan', 'disable', '2'])).toEqual({ id: 2, active: false });

    await fails(['plan', 'disable', '1'], env, 1, /^plan 1 is already disabled$/);
    await fails(['plan', 'disable', '99'], env, 1, /^no plan with id 99$/);
    await fails(['plan', 'disable', 'monthly'], env, 1, /^plan id must be a positive whole number \(got "monthly"\)$/);
    await fails(['plan', 'disable'], env, 2, /^missing <plan-id>$/);
    await fails(['plan', 'disable', '1', '2'], env, 2, /^unexpected argument "2"$/);
    await fails(['plan', 'list', '--group', '99'], env, 1, /^no group with id 99$/);
    await fails(['group', 'list', '--platform', 'x'], env, 2, /Unknown option '--platform'/);
    expect((await store.audit.list({ subjectType: 'plan' })).filter((e) => e.action === 'plan.disable')).toHaveLength(2);

    // the use case, from an account: only an owner may, and only once
    const plan3 = await json(['plan', 'add', '--group', '1', '--name', 'Weekly', '--price', '2', '--currency', 'CNY', '--days', '7']);
    const stranger = await store.accounts.upsert({ platform: 'playground', platformUserId: 'mallory' }, Date.now());
    await expect(disablePlan(deps, { planId: plan3.id, actor: { kind: 'account', accountId: stranger.id } })).rejects.toThrow(/only an owner/);
    await expect(disablePlan(deps, { planId: 999, actor: { kind: 'account', accountId: stranger.id } })).rejects.toThrow(/only an owner/);
    const { code } = await createClaimCode(deps, { kind: 'admin', via: 'cli' });
    const owner = await redeemClaimCode(deps, { platform: 'playground', userId: 'olga', code });
    expect((await disablePlan(deps, { planId: plan3.id, actor: { kind: 'account', accountId: owner.id } })).active).toBe(false);
    expect((await store.audit.list({ subjectType: 'plan', subjectId: String(plan3.id) })).find((e) => e.action === 'plan.disable')!.actor).toBe(
      `account:${owner.id}`,
    );
  });

  it('member list with membershipId and --expiring-within; extend, remove, ban, unban', async () => {
    await catalog();
    const alice = await member('alice', 1, 'active', 3, 'Alice');
    const bob = await member('bob', 1, 'active', 60);
    const carol = await member('carol', 2, 'expired', -5);
    const list = await json(['member', 'list']);
    expect(list[0]).toEqual({
      membershipId: alice.membershipId,
      accountId: alice.accountId,
      platform: 'playground',
      platformUserId: 'alice',
      displayName: 'Alice',
      groupId: 1,
      status: 'active',
      expiresAt: list[0].expiresAt,
    });
    expect(list.map((m: { membershipId: number }) => m.membershipId)).toEqual([alice.membershipId, bob.membershipId, carol.membershipId]);
    expect((await json(['member', 'list', '--expiring-within', '7'])).map((m: { platformUserId: string }) => m.platformUserId)).toEqual(['alice']);
    expect((await json(['member', 'list', '--expiring-within', '90', '--group', '1'])).map((m: { platformUserId: string }) => m.platformUserId)).toEqual([
      'alice',
      'bob',
    ]);
    expect((await json(['member', 'list', '--expiring-within', '7', '--status', 'expired'])).map((m: { platformUserId: string }) => m.platformUserId)).toEqual([
      'carol',
    ]);
    // Without --json: a header row, then names and platform ids rather than bare ids, in aligned columns.
    const table = (await cli(['member', 'list'], env)).out.split('\n');
    expect(table[0]).toMatch(/^ID +GROUP +NAME +PLATFORM ID +STATUS +PAID UNTIL$/);
    expect(table).toHaveLength(4);
    expect(table[1]).toMatch(new RegExp(`^${alice.membershipId} +1 \\S.* +Alice +playground:alice +active +\\d{4}-`));
    expect(table[3]).toMatch(new RegExp(`^${carol.membershipId} +2 \\S.* +- +playground:carol +expired +\\d{4}-`));
    for (const h of ['GROUP', 'NAME', 'PLATFORM ID', 'STATUS', 'PAID UNTIL']) {
      const at = table[0]!.indexOf(h);
      for (const line of table.slice(1)) expect(line[at - 1] === ' ' && line[at] !== ' ', `${h} column in ${line}`).toBe(true);
    }
    await fails(['member', 'list', '--expiring-within', 'soon'], env, 1, /^--expiring-within must be a whole number from 0 to 3660 \(got "soon"\)$/);
    await fails(['member', 'list', '--group', '9'], env, 1, /^no group with id 9$/);

    // extend
    const before = (await store.memberships.get(alice.membershipId))!.expiresAt;
    const ext = await json(['member', 'extend', String(alice.membershipId), '--days', '10', '--reason', 'goodwill']);
    expect(ext).toEqual({ membershipId: alice.membershipId, status: 'active', expiresAt: new Date(before + 10 * DAY_MS).toISOString() });
    expect((await store.memberships.get(alice.membershipId))!.expiresAt).toBe(before + 10 * DAY_MS);
    expect(
      (await store.audit.list({ subjectType: 'membership', subjectId: String(alice.membershipId) })).find((e) => e.action === 'membership.extend_by_owner'),
    ).toMatchObject({ actor: 'admin:cli', reason: 'goodwill' });
    const text = await cli(['member', 'extend', String(bob.membershipId), '--days', '1'], env);
    expect(text.out).toMatch(new RegExp(`^membership ${bob.membershipId} extended by 1 day: active until \\d{4}-`));
    for (const days of ['0', '-1', '-30', 'ten', '1.5', '3661', '99999999999', '']) {
      await fails(
        ['member', 'extend', String(alice.membershipId), '--days', days],
        env,
        days === '' ? 2 : 1,
        days === '' ? /^missing --days$/ : /^--days must be a whole number from 1 to 3660 \(got "/,
      );
    }
    expect((await store.memberships.get(alice.membershipId))!.expiresAt).toBe(before + 10 * DAY_MS);
    await fails(['member', 'extend', String(alice.membershipId)], env, 2, /^missing --days$/);
    await fails(['member', 'extend', '--days', '3'], env, 2, /^missing <membership-id>$/);
    await fails(['member', 'extend', '999', '--days', '3'], env, 1, /^no membership with id 999$/);
    await fails(['member', 'extend', 'abc', '--days', '3'], env, 1, /^membership id must be a positive whole number \(got "abc"\)$/);

    // remove, ban, unban
    expect(await json(['member', 'remove', String(bob.membershipId), '--reason', 'spam'])).toMatchObject({ membershipId: bob.membershipId, status: 'revoked' });
    await fails(['member', 'remove', String(bob.membershipId)], env, 1, /^this membership is revoked, not in the group$/);
    const ban = await cli(['member', 'ban', String(alice.membershipId), '--reason', '-rude-'], env);
    expect(ban.code).toBe(0);
    expect(ban.out).toBe(`membership ${alice.membershipId} banned; the service will keep them out of the group`);
    expect((await store.memberships.get(alice.membershipId))!.status).toBe('banned');
    expect(
      (await store.audit.list({ subjectType: 'membership', subjectId: String(alice.membershipId) })).find((e) => e.action === 'membership.ban')!.reason,
    ).toBe('-rude-');
    await fails(['member', 'ban', String(alice.membershipId)], env, 1, /^this member is already banned$/);
    await fails(['member', 'extend', String(alice.membershipId), '--days', '3'], env, 1, /^this member is banned; unban them first$/);
    const unban = await cli(['member', 'unban', String(alice.membershipId)], env);
    expect(unban.out).toMatch(new RegExp(`^membership ${alice.membershipId} unbanned: now active, paid until .*invite them back$`));
    await fails(['member', 'unban', String(alice.membershipId)], env, 1, /^this member is active, not banned$/);
    await fails(['member', 'unban', '12345'], env, 1, /^no membership with id 12345$/);
    await fails(['member', 'remove', '0'], env, 1, /membership id must be a positive whole number/);

    // an owner cannot be banned or removed
    const { code } = await createClaimCode(deps, { kind: 'admin', via: 'cli' });
    const owner = await redeemClaimCode(deps, { platform: 'playground', userId: 'olga', code });
    const om = await store.memberships.insert({ accountId: owner.id, groupId: 1, status: 'active', expiresAt: Date.now() + 30 * DAY_MS }, Date.now());
    await fails(['member', 'ban', String(om.id)], env, 1, /^an owner cannot be banned$/);
    await fails(['member', 'remove', String(om.id)], env, 1, /^an owner cannot be removed/);
    expect((await store.memberships.get(om.id))!.status).toBe('active');
  });

  it("member extend after a playground time jump counts from the playground's now (the stored clock offset)", async () => {
    await catalog();
    const gone = await member('tess', 1, 'expired', -5);
    // What POST /playground/api/time-travel stores: the playground clock runs 40 days ahead.
    await store.clock.setOffset(40 * DAY_MS, Date.now());
    const before = Date.now();
    const r = await json(['member', 'extend', String(gone.membershipId), '--days', '3']);
    expect(Date.parse(r.expiresAt)).toBeGreaterThanOrEqual(before + 43 * DAY_MS);
    expect(Date.parse(r.expiresAt)).toBeLessThanOrEqual(Date.now() + 43 * DAY_MS);
    // Back to real time: the CLI counts from real time again.
    await store.clock.setOffset(0, Date.now());
    const again = await member('ulla', 1, 'expired', -5);
    const now = Date.now();
    const r2 = await json(['member', 'extend', String(again.membershipId), '--days', '3']);
    expect(Date.parse(r2.expiresAt)).toBeGreaterThanOrEqual(now + 3 * DAY_MS);
    expect(Date.parse(r2.expiresAt)).toBeLessThanOrEqual(Date.now() + 3 * DAY_MS);
  });

  it('member extend adds days to the later of expiry and now: never shortens a removed member, never counts from a past expiry', async () => {
    await catalog();
    const removed = await member('rita', 1, 'revoked', 20);
    const late = await member('gus', 1, 'grace', -2);
    const paidUntil = (await store.memberships.get(removed.membershipId))!.expiresAt;
    expect(await json(['member', 'extend', String(removed.membershipId), '--days', '3'])).toEqual({
      membershipId: removed.membershipId,
      status: 'active',
      expiresAt: new Date(paidUntil + 3 * DAY_MS).toISOString(),
    });
    expect((await store.periods.listForMembership(removed.membershipId)).at(-1)).toMatchObject({
      kind: 'comp',
      startsAt: paidUntil,
      endsAt: paidUntil + 3 * DAY_MS,
    });
    expect((await store.jobs.list({ kind: 'invite' })).map((j) => (j.payload as { membershipId: number }).membershipId)).toEqual([removed.membershipId]);
    const before = Date.now();
    const g = await json(['member', 'extend', String(late.membershipId), '--days', '3']);
    expect(Date.parse(g.expiresAt)).toBeGreaterThanOrEqual(before + 3 * DAY_MS);
    expect(Date.parse(g.expiresAt)).toBeLessThanOrEqual(Date.now() + 3 * DAY_MS);
  });

  it('order list newest first (paging through everything) and order refund', async () => {
    await catalog();
    const { accountId } = await member('alice', 1, 'active', 30);
    const t0 = Date.now() - 10 * DAY_MS;
    const paid = await order('paidOrder0000000000001', accountId, 'paid', t0);
    const pending = await order('pendingOrder000000001', accountId, 'pending', t0 + 1000);
    const dashed = await order('-dashedOrder000000001', accountId, 'paid', t0 + 2000);
    const list = await json(['order', 'list']);
    expect(list.map((o: { id: string }) => o.id)).toEqual([dashed.id, pending.id, paid.id]);
    expect(list[2]).toMatchObject({
      id: paid.id,
      status: 'paid',
      amountMinor: 990,
      amount: '9.90',
      currency: 'CNY',
      refundedMinor: 0,
      refunded: '0.00',
      provider: 'dev',
      accountId,
      planId: 1,
    });
    expect((await json(['order', 'list', '--status', 'pending'])).map((o: { id: string }) => o.id)).toEqual([pending.id]);
    expect((await cli(['order', 'list', '--status', 'pending'], env)).out).toMatch(
      new RegExp(`^${pending.id}\\tpending\\t9.90 CNY\\tdev\\taccount ${accountId}\\tplan 1\\t`),
    );
    await fails(['order', 'list', '--status', 'done'], env, 1, /^unknown order status "done"/);

    // refund: recorded here, completed by the service's worker
    const r = await cli(['order', 'refund', paid.id, '--reason', 'asked nicely'], env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('refund requested; the service will complete it');
    expect((await store.orders.get(paid.id))!.status).toBe('refund_pending');
    const jobs = await store.jobs.list({ kind: 'refund' });
    expect(jobs.map((j) => j.payload)).toEqual([{ orderId: paid.id }]);
    await fails(['order', 'refund', paid.id], env, 1, /^a refund for order paidOrder0000000000001 is already in progress$/);
    // the provider confirms (as the worker would record it)
    await store.transaction(async (tx) => {
      const o = (await tx.orders.get(paid.id))!;
      expect(
        await confirmRefund(tx, o, { providerRefundId: 'rf-1', amountMinor: 990, currency: 'CNY', refundedAt: Date.now() }, 'provider:dev', Date.now()),
      ).toBe('full');
    });
    expect((await json(['order', 'list', '--status', 'refunded']))[0]).toMatchObject({ id: paid.id, refundedMinor: 990, refunded: '9.90' });
    await fails(['order', 'refund', paid.id], env, 1, /^order paidOrder0000000000001 is already refunded$/);
    await fails(['order', 'refund', pending.id], env, 1, /^order pendingOrder000000001 is pending: only a paid order can be refunded$/);
    await fails(['order', 'refund', 'noSuchOrder'], env, 1, /^no order with id noSuchOrder$/);
    await fails(['order', 'refund', 'bad id\nwith newline'], env, 1, /^no order with id "bad id\\nwith newline"$/);
    await fails(['order', 'refund'], env, 2, /^missing <order-id>$/);
    // an order id may start with "-": it is still an id, not a flag
    const dr = await json(['order', 'refund', dashed.id]);
    expect(dr).toMatchObject({ id: dashed.id, status: 'refund_pending' });
    expect((await json(['order', 'list', '--status', 'refund_pending'])).map((o: { id: string }) => o.id)).toEqual([dashed.id]);

    // more orders than one page, several with the same created_at: all listed once, newest first
    await store.transaction(async (tx) => {
      for (let i = 0; i < 520; i++) {
        const at = t0 + 5000 + Math.floor(i / 3);
        await tx.orders.insert({
          ...paid,
          id: `bulk${String(i).padStart(4, '0')}`,
          outTradeNo: randomBytes(16).toString('hex'),
          status: 'expired',
          createdAt: at,
          updatedAt: at,
          paidAt: null,
          providerTxnId: null,
        });
      }
    });
    const all = (await json(['order', 'list'])) as Array<{ id: string; createdAt: string }>;
    expect(all).toHaveLength(523);
    expect(new Set(all.map((o) => o.id)).size).toBe(523);
    const keys = all.map((o) => [Date.parse(o.createdAt), o.id] as const);
    for (let i = 1; i < keys.length; i++) {
      const [a, b] = [keys[i - 1]!, keys[i]!];
      expect(a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]), `${a} before ${b}`).toBe(true);
    }
    expect(all[0]!.id).toBe('bulk0519');
  });

  it('backup: a consistent copy on SQLite, never over an existing file; pg_dump on PostgreSQL', async () => {
    await catalog();
    const dir = mkdtempSync(join(tmpdir(), 'gk-backup-'));
    files.push(dir);
    const file = join(dir, 'copy.db');
    if (dialect === 'postgres') {
      await fails(['backup', file], env, 1, /^backup works on SQLite only; on PostgreSQL use pg_dump$/);
      expect(existsSync(file)).toBe(false);
      return;
    }
    const r = await json(['backup', file]);
    expect(r).toEqual({ file, bytes: statSync(file).size });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const copy = new SQLite(file, { readonly: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(copy.prepare('select title from groups order by id').all()).toEqual([{ title: 'Readers' }, { title: 'Writers' }]);
    } finally {
      copy.close();
    }
    const before = readFileSync(file);
    await fails(['backup', file], env, 1, /already exists; backup never overwrites a file/);
    expect(readFileSync(file).equals(before)).toBe(true);
    const other = join(dir, 'notes.txt');
    writeFileSync(other, 'keep me');
    await fails(['backup', other], env, 1, /already exists/);
    expect(readFileSync(other, 'utf8')).toBe('keep me');
    await fails(['backup', join(dir, 'missing', 'x.db')], env, 1, /does not exist$/);
    await fails(['backup'], env, 2, /^missing <file>$/);
    const text = await cli(['backup', join(dir, 'second.db')], env);
    expect(text.out).toMatch(/^backed up .*gatekeeper\.db to .*second\.db \(\d+ bytes\)$/);
  });

  it('export members --format csv: header, quoting, formula injection defused, filters', async () => {
    await catalog();
    const names: Array<[string, string | null]> = [
      ['alice', 'Alice, "the Great"'],
      ['bob', 'two\nlines'],
      ['@carol', '=HYPERLINK("http://evil.example","click")'],
      ['dave', '+1-555'],
      ['erin', '-2+3'],
      ['frank', '@SUM(A1)'],
      ['gina', null],
      ['hal', '普通 name'],
      ['ida', 'Ida,=cmd|"/c calc"!A0'],
      ['jon', '＝HYPERLINK("http://evil.example")'],
      ['kim', 'Kim;－1'],
    ];
    const ids: number[] = [];
    for (const [user, name] of names) ids.push((await member(user, 1, 'active', 30, name)).membershipId);
    const other = await member('ivan', 2, 'expired', -1, 'Ivan');

    const r = await cli(['export', 'members', '--format', 'csv'], env);
    expect(r.code, r.err).toBe(0);
    const raw = `${r.out}\n`;
    expect(raw.split('\n')[0]).toBe('membershipId,accountId,platform,platformUserId,displayName,groupId,status,expiresAt');
    expect(raw).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(raw).toContain('"Alice, ""the Great"""');
    const rows = parseCsv(raw);
    expect(rows[0]).toEqual(['membershipId', 'accountId', 'platform', 'platformUserId', 'displayName', 'groupId', 'status', 'expiresAt']);
    expect(rows).toHaveLength(1 + names.length + 1);
    const byUser = new Map(rows.slice(1).map((row) => [row[3], row]));
    expect(byUser.get('alice')![4]).toBe('Alice, "the Great"');
    expect(byUser.get('bob')![4]).toBe('two\nlines');
    expect(byUser.get("'@carol")![4]).toBe('\'=HYPERLINK("http://evil.example","click")');
    expect(byUser.get('dave')![4]).toBe("'+1-555");
    expect(byUser.get('erin')![4]).toBe("'-2+3");
    expect(byUser.get('frank')![4]).toBe("'@SUM(A1)");
    expect(byUser.get('gina')![4]).toBe('');
    expect(byUser.get('hal')![4]).toBe('普通 name');
    expect(byUser.get('alice')!.slice(0, 3)).toEqual([String(ids[0]), byUser.get('alice')![1], 'playground']);
    expect(byUser.get('alice')!.slice(5, 7)).toEqual(['1', 'active']);
    expect(byUser.get('alice')![7]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(byUser.get('ida')![4]).toBe('Ida,\'=cmd|"/c calc"!A0');
    expect(byUser.get('jon')![4]).toBe('\'＝HYPERLINK("http://evil.example")');
    expect(byUser.get('kim')![4]).toBe("Kim;'－1");
    // No cell, and no part of a cell after a separator, starts a formula; every text cell is quoted.
    for (const row of rows.slice(1)) for (const c of row) expect(c).not.toMatch(/(^|[;,])\s*[=+\-@\t\r＝＋－＠]/);
    for (const line of raw.split('\n').slice(1, 3)) expect(line).toMatch(/^\d+,\d+,"playground","/);

    const g2 = parseCsv(`${(await cli(['export', 'members', '--format', 'csv', '--group', '2'], env)).out}\n`);
    expect(g2.slice(1).map((row) => row[0])).toEqual([String(other.membershipId)]);
    const expired = parseCsv(`${(await cli(['export', 'members', '--format', 'CSV', '--status', 'expired'], env)).out}\n`);
    expect(expired.slice(1).map((row) => row[3])).toEqual(['ivan']);
    const none = await cli(['export', 'members', '--format', 'csv', '--status', 'banned'], env);
    expect(none.out).toBe('membershipId,accountId,platform,platformUserId,displayName,groupId,status,expiresAt');

    const xml = await cli(['export', 'members', '--format', 'xml'], env);
    expect(xml.code).toBeGreaterThan(0);
    expect(xml.err).toMatch(/^unknown --format "xml"; only csv is supported$/);
    expect(xml.out).toBe('');
    await fails(['export', 'members'], env, 2, /^missing --format$/);
    await fails(['export', 'members', '--format', 'csv', '--status', 'gone'], env, 1, /^unknown status "gone"/);
    await fails(['export', 'members', '--format', 'csv', '--group', '7'], env, 1, /^no group with id 7$/);
    await fails(['export', 'members', '--format', 'csv', '--json'], env, 2, /--json does not apply/);
    await fails(['export', 'orders', '--format', 'csv'], env, 2, /^unknown command "export orders"/);
    await fails(['export'], env, 2, /^"export" needs a subcommand/);
  });

  it('--help on every command, without touching the database', async () => {
    const commands = [
      ['owner', 'claim'],
      ['group', 'list'],
      ['plan', 'list'],
      ['plan', 'disable'],
      ['member', 'list'],
      ['member', 'extend'],
      ['member', 'remove'],
      ['member', 'ban'],
      ['member', 'unban'],
      ['order', 'list'],
      ['order', 'refund'],
      ['backup'],
      ['export', 'members'],
    ];
    const main = (await cli(['--help'], env)).out;
    for (const args of commands) {
      const r = await cli([...args, '--help'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: gatekeeper ${args.join(' ')}`));
      expect(main).toContain(args[0]!);
    }
  });
});

describe('command names', () => {
  it('refuses an unknown command or subcommand with one line and exit 2', async () => {
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const cases: Array<[string[], RegExp]> = [
      [['constructor'], /^unknown command "constructor"; see gatekeeper --help$/],
      [['toString', 'x'], /^unknown command "toString"/],
      [['main'], /^unknown command "main"/],
      [['member'], /^"member" needs a subcommand \(member list, member extend, member remove, member ban, member unban, member approve, member reject\)/],
      [['plan', '--json'], /^"plan" needs a subcommand/],
      [['order', 'approve', 'x'], /^unknown command "order approve" \(order list, order refund\)/],
      [['owner', 'constructor'], /^unknown command "owner constructor"/],
    ];
    for (const [args, line] of cases) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(line);
      expect(r.out).toBe('');
    }
  });
});

describe('groups of commands and --version', () => {
  const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };

  it("gatekeeper <group> --help lists the group's commands, exit 0, without touching the database", async () => {
    const families: Array<[string, string[]]> = [
      ['owner', ['claim']],
      ['group', ['add', 'list']],
      ['plan', ['add', 'list', 'disable']],
      ['member', ['list', 'extend', 'remove', 'ban', 'unban']],
      ['order', ['list', 'refund']],
      ['export', ['members']],
    ];
    for (const [family, subs] of families) {
      for (const flag of ['--help', '-h']) {
        const r = await cli([family, flag], env);
        expect(r.code, `${family} ${flag}: ${r.err}`).toBe(0);
        expect(r.out).toMatch(new RegExp(`^Usage: gatekeeper ${family} `));
        for (const sub of subs) expect(r.out).toMatch(new RegExp(`^  ${family} ${sub} +\\S`, 'm'));
      }
    }
  });

  it('gatekeeper --version prints the package.json version, in-process and as a process', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(await cli(['--version'], env)).toEqual({ code: 0, out: version, err: '' });
    const r = await exec('node', ['bin/gatekeeper.js', '--version'], { env: { ...process.env, ...env } });
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.stderr).toBe('');
  });
});

describe('csvCell', () => {
  it('quotes every text cell, leaves numbers and empty cells bare', () => {
    expect(csvCell('plain')).toBe('"plain"');
    expect(csvCell('')).toBe('""');
    expect(csvCell(12)).toBe('12');
    expect(csvCell(null)).toBe('');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('line\r\nbreak')).toBe('"line\r\nbreak"');
    expect(csvCell('a=b')).toBe('"a=b"');
    expect(csvCell('2026-01-01T00:00:00.000Z')).toBe('"2026-01-01T00:00:00.000Z"');
  });

  it('defuses a formula trigger at the start of a cell, full-width forms too', () => {
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('+1')).toBe(`"'+1"`);
    expect(csvCell('-1')).toBe(`"'-1"`);
    expect(csvCell('@x')).toBe(`"'@x"`);
    expect(csvCell('\t=1')).toBe(`"'\t=1"`);
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
    expect(csvCell('=A1,"b"')).toBe(`"'=A1,""b"""`);
    expect(csvCell('＝HYPERLINK("http://evil.example")')).toBe(`"'＝HYPERLINK(""http://evil.example"")"`);
    for (const c of ['＋', '－', '＠']) expect(csvCell(`${c}1`)).toBe(`"'${c}1"`);
    expect(csvCell('  =1')).toBe(`"'  =1"`);
  });

  it('defuses a formula trigger after a ; or , inside a cell', () => {
    expect(csvCell('Bob,=cmd|"/c calc"!A0')).toBe(`"Bob,'=cmd|""/c calc""!A0"`);
    expect(csvCell('x;+1')).toBe(`"x;'+1"`);
    expect(csvCell('x; @SUM(A1)')).toBe(`"x; '@SUM(A1)"`);
    expect(csvCell('a;＝1,－2')).toBe(`"a;'＝1,'－2"`);
    expect(csvCell('=1;=2')).toBe(`"'=1;'=2"`);
    expect(csvCell('a, b; c')).toBe('"a, b; c"');
  });
});

describe('gatekeeper bin (admin commands)', () => {
  it('exports CSV through a pipe and fails a backup over an existing file with one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-bin-admin-'));
    try {
      const env = { ...process.env, DATA_DIR: dir, DATABASE_URL: '' };
      await exec('node', ['bin/gatekeeper.js', 'group', 'add', '--platform', 'playground', '--chat', 'demo', '--title', 'Demo'], { env });
      const csv = await exec('node', ['bin/gatekeeper.js', 'export', 'members', '--format', 'csv'], { env });
      expect(csv.stdout).toBe('membershipId,accountId,platform,platformUserId,displayName,groupId,status,expiresAt\n');
      const claim = await exec('node', ['bin/gatekeeper.js', 'owner', 'claim', '--json'], { env });
      expect(JSON.parse(claim.stdout).code).toMatch(/^claim-/);
      const existing = join(dir, 'exists.db');
      writeFileSync(existing, 'x');
      const bad = await exec('node', ['bin/gatekeeper.js', 'backup', existing], { env }).catch((e: { code: number; stderr: string }) => e);
      expect((bad as { code: number }).code).toBe(1);
      expect((bad as { stderr: string }).stderr).toMatch(
        /^gatekeeper: "[^"\n]*exists\.db" already exists; backup never overwrites a file, choose a new name\n$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
