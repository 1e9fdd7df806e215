// The one registry of job kinds: payloads are parsed by each kind's schema (jobs already queued included),
// a payload that does not parse is a dead letter that says why, and a kind is registered once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ALERT_OWNERS, INVITE, NOTIFY, REMOVE, notifyJob, refundJob, removeJob } from '../../src/app/job-kinds.ts';
import { defineJobKind, JobRegistry, parsePayload } from '../../src/app/job-registry.ts';
import type { Job } from '../../src/app/model.ts';
import type { Store } from '../../src/app/ports.ts';
import { Worker } from '../../src/jobs/worker.ts';
import { LEGACY_TELEGRAM_INTRUDER as TELEGRAM_INTRUDER, LEGACY_WECHAT_REMOVE_INTRUDER, REMOVE_INTRUDER } from '../../src/app/roster.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { DIALECTS, openTestDb, type TestDb } from '../helpers/db.ts';
import { memoryLogger } from '../helpers/service.ts';

const asJob = (kind: string, payload: unknown): Job => ({ id: 7, kind, payload }) as Job;

describe('job kinds', () => {
  it('parse the payload shapes already queued in a database (every kind name kept)', () => {
    expect(parsePayload(INVITE, asJob('invite', { membershipId: 3, expiresAt: 1_700_000_000_000 }))).toEqual({ membershipId: 3, expiresAt: 1_700_000_000_000 });
    expect(parsePayload(REMOVE, asJob('remove', { membershipId: 3, reason: 'banned', expectStatus: 'banned' }))).toMatchObject({ reason: 'banned' });
    const notice = {
      accountId: 1,
      message: { key: 'k', params: { group: 'G', n: 2 } },
      onlyIf: { membershipId: 3, statuses: ['expired'] },
      ownerAlert: true,
      coalesced: 4,
    };
    expect(parsePayload(NOTIFY, asJob('notify', notice))).toEqual(notice);
    expect(parsePayload(ALERT_OWNERS, asJob('alert_owners', { groupIds: [], message: { key: 'k', params: {} } }))).toMatchObject({ groupIds: [] });
    expect(parsePayload(TELEGRAM_INTRUDER, asJob('telegram_intruder', { groupId: 1, userId: '42', joinedAt: 5 }))).toMatchObject({ userId: '42' });
    expect(parsePayload(LEGACY_WECHAT_REMOVE_INTRUDER, asJob('wechat_remove_intruder', { groupId: 1, contactId: 'wx', reportId: 9 }))).toMatchObject({
      reportId: 9,
    });
    expect(parsePayload(REMOVE_INTRUDER, asJob('roster_remove_intruder', { groupId: 1, userId: 'wx' }))).toEqual({ groupId: 1, userId: 'wx' });
    expect([
      INVITE.kind,
      REMOVE.kind,
      NOTIFY.kind,
      ALERT_OWNERS.kind,
      TELEGRAM_INTRUDER.kind,
      LEGACY_WECHAT_REMOVE_INTRUDER.kind,
      REMOVE_INTRUDER.kind,
    ]).toEqual(['invite', 'remove', 'notify', 'alert_owners', 'telegram_intruder', 'wechat_remove_intruder', 'roster_remove_intruder']);
  });

  it('build the same jobs as before (kind, payload, lane, dedupe key, attempts), and say what decides their platform', () => {
    expect(removeJob({ membershipId: 3, reason: 'expired', expectStatus: 'expired' }, 11)).toEqual({
      kind: 'remove',
      payload: { membershipId: 3, reason: 'expired', expectStatus: 'expired' },
      lane: 'removal',
      about: { membershipId: 3 },
      dedupeKey: 'remove:3:expired:11',
    });
    expect(notifyJob({ accountId: 1, message: { key: 'k', params: {} } })).toEqual({
      kind: 'notify',
      payload: { accountId: 1, message: { key: 'k', params: {} } },
      lane: 'notice',
      about: { accountId: 1 },
    });
    expect(refundJob('o1', 'r1')).toEqual({ kind: 'refund', payload: { orderId: 'o1' }, lane: 'system', dedupeKey: 'refund:r1', maxAttempts: 12 });
  });

  it('refuses a payload that does not parse, saying which job and why', () => {
    expect(() => parsePayload(INVITE, asJob('invite', { membershipId: '3' }))).toThrow(/job 7 \(invite\): payload does not parse.*membershipId/s);
  });

  it('registers a kind once', () => {
    const registry = new JobRegistry();
    const k = defineJobKind('k', z.object({ a: z.number() }));
    registry.register(k, async () => {});
    expect(() => registry.register(k, async () => {})).toThrow('job kind "k" registered twice');
  });
});

describe.each(DIALECTS)('the worker with the registry (%s)', (dialect) => {
  let db: TestDb;
  let store: Store;
  beforeEach(async () => {
    db = await openTestDb(dialect);
    store = db.store;
  });
  afterEach(async () => {
    await db.close();
  });

  it('makes a job whose payload does not parse a dead letter with a clear error, and runs the next job', async () => {
    const clock = new FakeClock();
    const registry = new JobRegistry();
    const K = defineJobKind('greet', z.object({ name: z.string() }));
    const seen: string[] = [];
    registry.register(K, async (p) => {
      seen.push(p.name);
    });
    const dead: string[] = [];
    const worker = new Worker(
      store,
      clock,
      {
        handlers: registry.handlers,
        async onDead(_job, error) {
          dead.push(error);
          return [];
        },
      },
      memoryLogger(),
    );
    await store.jobs.enqueue([{ kind: 'greet', payload: { name: 7 }, lane: 'notice' }, K.job({ name: 'alice' }, { lane: 'notice' })], clock.now());
    await worker.drain();
    expect(seen).toEqual(['alice']);
    const bad = (await store.jobs.list({ kind: 'greet' })).find((j) => j.status === 'dead');
    expect(bad).toMatchObject({ attempts: 1 });
    expect(bad?.lastError).toMatch(/\(greet\): payload does not parse/);
    expect(dead).toHaveLength(1);
  });
});
