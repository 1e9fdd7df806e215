// The group-roster rules of src/app/roster.ts, one test per rule, on the use cases directly: who may
// stay, the whitelist (one audit action per event), and `remove` only after a dry run the owner has seen
// within 24 hours. The adapters' own tests (test/bots/telegram/groups.test.ts, test/bots/wechat/
// roster-audit.test.ts, room-binding.test.ts) show each platform reporting its facts into these rules.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import { DRY_RUN_VALID_MS, fingerprintOf, listWhitelist, mayStay, recordDryRun, setIntruderPolicy, unwhitelist, whitelist } from '../../src/app/roster.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

/** An owner whose claim names these groups (or every group). */
async function owner(deps: AppDeps, userId: string, groupIds?: number[]) {
  const { code } = await createClaimCode(deps, admin, groupIds);
  const a = await redeemClaimCode(deps, { platform: 'playground', userId, displayName: userId, code });
  return { account: a, actor: { kind: 'account', accountId: a.id } as Actor };
}

describe.each(DIALECTS)('roster rules (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('who may stay: bots, admins, any owner of this group, the whitelisted (by id or handle) and paying members; nobody else', async ({ t, deps }) => {
    const s = await seedOrderDirect(deps, { userId: 'paula' });
    await payDevDirect(deps, s.orderId);
    await t.service.worker.drain();
    const group = (await deps.store.groups.get(s.groupId))!;
    const other = await addGroup(deps, { platform: 'playground', chatId: 'room-2', title: 'Other', actor: admin });
    await owner(deps, 'olga', [group.id]);
    await owner(deps, 'oscar', [other.id]);
    await deps.store.roster.addToWhitelist({ groupId: group.id, userId: 'wendy', handle: 'wendy_wx', name: 'Wendy', addedBy: null }, deps.clock.now());
    const why = (userId: string, extra: object = {}) => mayStay(deps.store, group, { userId, name: null, ...extra });

    expect(await why('helper-bot', { role: 'bot' })).toBe('bot');
    expect(await why('me', { role: 'self' })).toBe('bot');
    expect(await why('anna', { role: 'admin' })).toBe('admin');
    expect(await why('olga')).toBe('owner'); // her claim names this group; she did not bind it
    expect(await why('oscar')).toBeNull(); // an owner of another group is no owner here
    expect(await why('wendy')).toBe('whitelisted');
    expect(await why('new-id-after-relogin', { handle: 'wendy_wx' })).toBe('whitelisted');
    expect(await why('paula')).toBe('paid');
    expect(await why('mallory')).toBeNull();

    // Grace still gives access; an expired membership does not.
    const account = (await deps.store.accounts.find('playground', 'paula'))!;
    const m = (await deps.store.memberships.list({ accountId: account.id, groupId: group.id }))[0]!;
    await deps.store.memberships.update(m.id, { status: 'grace', expiresAt: m.expiresAt, graceUntil: m.expiresAt + 1000 }, deps.clock.now());
    expect(await why('paula')).toBe('paid');
    await deps.store.memberships.update(m.id, { status: 'expired', expiresAt: m.expiresAt, graceUntil: null }, deps.clock.now());
    expect(await why('paula')).toBeNull();
  });

  it('the whitelist: one audit action per event on every platform, nothing written twice, owners of other groups refused', async ({ deps }) => {
    const group = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Club', actor: admin });
    const olga = await owner(deps, 'olga', [group.id]);
    const other = await addGroup(deps, { platform: 'playground', chatId: 'room-2', title: 'Other', actor: admin });
    const oscar = await owner(deps, 'oscar', [other.id]);

    expect(await whitelist(deps, olga.actor, group, { userId: 'wendy', name: 'Wendy' })).toBe(true);
    expect(await whitelist(deps, olga.actor, group, { userId: 'wendy', name: 'Wendy' })).toBe(false);
    expect((await listWhitelist(deps, olga.actor, group)).map((w) => w.userId)).toEqual(['wendy']);
    await expect(whitelist(deps, oscar.actor, group, { userId: 'mallory' })).rejects.toThrow(DomainError);
    await expect(unwhitelist(deps, oscar.actor, group, 'wendy')).rejects.toThrow(/not one of your groups/);
    expect(await unwhitelist(deps, olga.actor, group, 'wendy')).toBe(true);
    expect(await unwhitelist(deps, olga.actor, group, 'wendy')).toBe(false);
    expect(await deps.store.roster.listWhitelist(group.id)).toEqual([]);

    const actions = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).map((a) => [a.action, a.actor, a.detail]);
    expect(actions.filter(([a]) => String(a).startsWith('group.whitelist'))).toEqual([
      ['group.whitelist_add', `account:${olga.account.id}`, { userId: 'wendy' }],
      ['group.whitelist_remove', `account:${olga.account.id}`, { userId: 'wendy' }],
    ]);
  });

  it('`remove` only after a dry run this owner asked for within 24 hours; `report` and `ignore` any time', async ({ t, deps }) => {
    const group = await addGroup(deps, { platform: 'playground', chatId: 'room-1', title: 'Club', actor: admin });
    const olga = await owner(deps, 'olga', [group.id]);
    const otto = await owner(deps, 'otto', [group.id]);
    const policy = async () => (await deps.store.groups.get(group.id))!.intruderPolicy;

    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: false, reason: 'needs_dry_run' });
    expect(await policy()).toBe('report');
    // A report the roster audit sent on its own, or a dry run another owner asked for, is not hers.
    await deps.store.roster.insertReport({ groupId: group.id, requestedBy: null, intruders: [], fingerprint: '' }, deps.clock.now());
    await recordDryRun(deps, otto.actor, group, [{ userId: 'eve', name: 'Eve', handle: null }]);
    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: false, reason: 'needs_dry_run' });
    // Her own, but too old.
    await recordDryRun(deps, olga.actor, group, [{ userId: 'eve', name: 'Eve', handle: null }]);
    await t.clock.advance(DRY_RUN_VALID_MS + 1);
    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: false, reason: 'needs_dry_run' });
    expect(await policy()).toBe('report');

    const seen = await recordDryRun(deps, olga.actor, group, [{ userId: 'eve', name: 'Eve', handle: null }]);
    expect(seen.fingerprint).toBe(fingerprintOf([{ userId: 'eve' }]));
    expect(await setIntruderPolicy(deps, olga.actor, group, 'remove')).toEqual({ set: true, report: seen });
    expect(await policy()).toBe('remove');
    expect(await setIntruderPolicy(deps, olga.actor, (await deps.store.groups.get(group.id))!, 'ignore')).toEqual({ set: true, report: null });
    expect(await policy()).toBe('ignore');
    const audit = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(group.id) })).filter((a) => a.action === 'group.intruder_policy');
    expect(audit.map((a) => a.detail)).toEqual([
      { from: 'report', to: 'remove', reportId: seen.id },
      { from: 'remove', to: 'ignore', reportId: null },
    ]);
  });

  it('a dry run is fingerprinted by who is on it, whatever the order', () => {
    expect(fingerprintOf([{ userId: 'a' }, { userId: 'b' }])).toBe(fingerprintOf([{ userId: 'b' }, { userId: 'a' }]));
    expect(fingerprintOf([{ userId: 'a' }])).not.toBe(fingerprintOf([{ userId: 'b' }]));
  });
});
