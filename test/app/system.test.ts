// app/system.ts: which groups a job is about, read from its payload — the one rule that decides which owner
// sees (and may retry) a dead letter in the console and which owners the dead-letter alert tells.
import { describe, expect } from 'vitest';
import { createJobHandlers } from '../../src/app/job-handlers.ts';
import type { Job } from '../../src/app/model.ts';
import { jobGroupIds } from '../../src/app/system.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const job = (kind: string, payload: unknown): Job => ({
  id: 1,
  kind,
  payload,
  lane: 'system',
  priority: 0,
  status: 'dead',
  runAt: 0,
  attempts: 8,
  maxAttempts: 8,
  leaseUntil: null,
  lockedBy: null,
  lastError: 'x',
  dedupeKey: null,
  createdAt: 0,
  updatedAt: 0,
});

describe.each(DIALECTS)('jobs by group (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it("reads a job's groups from its membership, order, group or group list; a job about a person or about nothing names none", async ({ t, deps }) => {
    const one = await seedOrderDirect(deps, { userId: 'ann', chatId: 'room-1' });
    const two = await seedOrderDirect(deps, { userId: 'ben', chatId: 'room-2' });
    await payDevDirect(deps, one.orderId);
    await t.service.worker.drain();
    const m = (await deps.store.memberships.list({}))[0]!;
    expect(m.groupId).toBe(one.groupId);
    const of = (kind: string, payload: unknown) => jobGroupIds(deps.store, job(kind, payload));
    expect(await of('invite', { membershipId: m.id, expiresAt: 1 })).toEqual([one.groupId]);
    expect(await of('refund', { orderId: two.orderId })).toEqual([two.groupId]);
    expect(await of('roster_remove_intruder', { groupId: two.groupId, userId: 'x' })).toEqual([two.groupId]);
    expect(await of('alert_owners', { groupIds: [two.groupId, one.groupId], message: { key: 'k', params: {} } })).toEqual(
      [one.groupId, two.groupId].sort((x, y) => x - y),
    );
    expect(await of('notify', { accountId: 1, message: { key: 'k', params: {} }, onlyIf: { membershipId: m.id, statuses: ['active'] } })).toEqual([
      one.groupId,
    ]);
    expect(await of('notify', { accountId: 1, message: { key: 'k', params: {} } })).toEqual([]);
    expect(await of('refund', { orderId: 'no-such-order' })).toEqual([]);
    expect(await of('refund_attempt', { tradeNo: 'no-such-trade' })).toEqual([]);
    expect(await of('alert_owners', { groupIds: [], message: { key: 'k', params: {} } })).toEqual([]);
    expect(await of('anything', null)).toEqual([]);
  });

  it("a dead intruder removal alerts the group's owners (by the same rule), not only the operators", async ({ deps }) => {
    const s = await seedOrderDirect(deps, { userId: 'ann', chatId: 'room-1' });
    const alerts = await createJobHandlers(deps).onDead(job('roster_remove_intruder', { groupId: s.groupId, userId: 'stranger' }), 'not enough rights');
    expect(alerts.map((a) => [a.kind, (a.payload as { groupIds: number[] }).groupIds])).toEqual([['alert_owners', [s.groupId]]]);
  });
});
