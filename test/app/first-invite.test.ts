// Issue 14: the core tells the gateway when an invite is the membership's first invitation
// (InviteContext.firstInvite), so Telegram may skip asking whether a first-time payer is already in or
// banned. Only the invite queued by the grant that created the membership, before the person was ever
// seen in, removed or looked at by the access sweep, is a first invitation; every other invite is not.
import { describe, expect } from 'vitest';
import { createJobHandlers } from '../../src/app/job-handlers.ts';
import { type InvitePayload, inviteJob } from '../../src/app/job-kinds.ts';
import { ProviderRejectedError } from '../../src/domain/errors.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

describe.each(DIALECTS)('first invitation (%s)', (dialect) => {
  const it = serviceTest(dialect);
  const run = { signal: new AbortController().signal };

  const pay = async (deps: Parameters<typeof seedOrderDirect>[0], userId: string, planId?: number) => {
    const s = await seedOrderDirect(deps, { userId, ...(planId !== undefined ? { planId } : {}) });
    expect((await payDevDirect(deps, s.orderId)).outcome).toBe('granted');
    return s;
  };

  it("a first payment's invite is the first invitation; the same job once the person was seen in is not", async ({ t, deps }) => {
    await pay(deps, 'ann');
    const [invite] = await deps.store.jobs.list({ kind: 'invite' });
    expect((invite!.payload as InvitePayload).first).toBe(true);
    await t.service.worker.drain();
    expect(t.gateway.of('invite').map((c) => c.ctx.firstInvite)).toEqual([true]);

    // The recording gateway answered `added`: confirmed in, so a second run of the job checks.
    await createJobHandlers(deps).handlers.invite!(invite!, run);
    expect(t.gateway.of('invite').map((c) => c.ctx.firstInvite)).toEqual([true, undefined]);
  });

  it("the sweep's re-invite is never first, nor is the grant's own job once the sweep looked", async ({ t, deps }) => {
    const lift = t.gateway.failWhen(
      (c) => c.op === 'invite',
      () => new ProviderRejectedError('playground', 'user blocked the bot'),
    );
    await pay(deps, 'ann');
    await t.service.worker.drain();
    const [invite] = await deps.store.jobs.list({ kind: 'invite', status: 'dead' });
    expect(invite).toBeDefined();
    lift();
    await t.clock.advance(7 * HOUR_MS);
    expect((await t.service.scheduler.tick()).access).toMatchObject({ reinvited: 1 });
    await t.service.worker.drain();
    const reinvite = (await deps.store.jobs.list({ kind: 'invite' })).find((j) => j.dedupeKey?.includes(':sweep:'));
    expect((reinvite!.payload as InvitePayload).first).toBeUndefined();
    expect(t.gateway.of('invite').map((c) => c.ctx.firstInvite)).toEqual([undefined]);

    // The first job run again after the sweep claimed the row: checked too.
    t.gateway.roster('room-1').clear();
    await createJobHandlers(deps).handlers.invite!(invite!, run);
    expect(t.gateway.of('invite').map((c) => c.ctx.firstInvite)).toEqual([undefined, undefined]);
  });

  it('a payment after a removal, and an invite queued by anything but the creating grant, are not first', async ({ t, deps }) => {
    const { planId } = await pay(deps, 'ann');
    await t.service.worker.drain();
    const [m] = await deps.store.memberships.list({});
    // Lapsed, grace over, removed by the sweep; then she pays again.
    await t.clock.advance(31 * DAY_MS + 2 * DAY_MS);
    await t.service.scheduler.tick();
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await deps.store.memberships.get(m!.id))!.status).toBe('expired');
    expect(t.gateway.of('remove')).toHaveLength(1);
    await pay(deps, 'ann', planId);
    await t.service.worker.drain();
    const invites = await deps.store.jobs.list({ kind: 'invite' });
    expect(invites).toHaveLength(2);
    expect(invites.map((j) => (j.payload as InvitePayload).first ?? false).sort()).toEqual([false, true]);
    expect(t.gateway.of('invite').map((c) => c.ctx.firstInvite)).toEqual([true, undefined]);

    // /invite (and every other caller) queues without `first`, even for a membership never seen in.
    const bob = await pay(deps, 'bob');
    const [bobM] = (await deps.store.memberships.list({ groupId: bob.groupId })).filter((x) => x.platformUserId === 'bob');
    await t.service.worker.drain();
    await deps.store.memberships.setAccess(bobM!.id, { confirmedAt: null });
    await deps.store.jobs.enqueue([inviteJob({ membershipId: bobM!.id, expiresAt: bobM!.expiresAt }, 'by-hand')], t.clock.now());
    await t.service.worker.drain();
    expect(t.gateway.of('invite').map((c) => c.ctx.firstInvite)).toEqual([true, undefined, true, undefined]);
  });
});
