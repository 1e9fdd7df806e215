// The service's own state, for the console's System page (issue 15 part 7), /healthz and `gatekeeper doctor`:
// the database, the payment providers' notification address, the job queue by lane, kind and status, and the
// dead letters (jobs given up on) with their one retry.
//
// Who sees which job. The queue serves the whole instance, and a job row names no group: only its payload
// says what it is about (a membership, an order, a group, a subscription…). `jobGroupIds` reads that, the
// same way the dead-letter alert decides which owners to tell. So:
//   - the operator (and an admin) sees every count and every dead letter and may retry any of them;
//   - an owner of some groups sees the counts (numbers only, nothing of a payload) and only the dead letters
//     whose payload is about their groups alone, and may retry only those. A dead letter the payload ties to
//     no group (a notice to a person, an alert to every operator) or to a group that is not theirs is the
//     operator's: an owner neither sees nor retries it.
import { forbidden, notFound } from '../domain/errors.ts';
import { type Actor, actorLabel, type GroupScope, groupScope, inScope, notAllowed } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { Job, JobStatus } from './model.ts';
import type { Repos } from './ports.ts';

// ---- database

export interface DatabaseHealth {
  database: 'ok' | 'unreachable';
  dialect: 'sqlite' | 'postgres';
  /** Why it is unreachable (for the log and the operator; never shown to anyone else). */
  error?: string;
}

/** The one database check of /healthz and the System page: a ping. */
export async function databaseHealth(deps: AppDeps): Promise<DatabaseHealth> {
  try {
    await deps.store.ping();
    return { database: 'ok', dialect: deps.store.dialect };
  } catch (err) {
    return { database: 'unreachable', dialect: deps.store.dialect, error: err instanceof Error ? err.message : String(err) };
  }
}

// ---- payment providers

const LOCAL_HOSTS = ['localhost', '127.0.0.1', '[::1]', '0.0.0.0'];
export const isLocalUrl = (url: string) => LOCAL_HOSTS.includes(new URL(url).hostname);

/** Where a provider sends its notifications, and whether the internet can reach it (https, not this machine). */
export function notifyAddress(publicUrl: string, provider: string): { url: string; reachable: boolean } {
  const url = `${publicUrl}/webhooks/${provider}`;
  return { url, reachable: url.startsWith('https://') && !isLocalUrl(url) };
}

export interface ProviderHealth {
  name: string;
  /** ok: notifications can reach us (or the rail needs none); warn: the dev rail (no money); fail: PUBLIC_URL is not public https. */
  status: 'ok' | 'warn' | 'fail';
  /** The notification address, for the rails that call us. */
  notifyUrl: string | null;
}

/**
 * Each payment provider this service runs, with the check `gatekeeper doctor` makes of its notification
 * address (notifyAddress). Its keys loaded: the service would not have started otherwise.
 */
export function providerHealth(deps: AppDeps): ProviderHealth[] {
  return [...deps.providers.keys()].sort().map((name) => {
    if (name === 'dev') return { name, status: 'warn', notifyUrl: null };
    if (name === 'stars') return { name, status: 'ok', notifyUrl: null };
    const n = notifyAddress(deps.settings.publicUrl, name);
    return { name, status: n.reachable ? 'ok' : 'fail', notifyUrl: n.url };
  });
}

// ---- jobs

/**
 * The groups a job is about, from its payload (an order's or a subscription's plan, a membership's group, a
 * group named outright); empty when the payload names none (a notice to a person, an alert to operators).
 */
export async function jobGroupIds(tx: Repos, job: Pick<Job, 'payload'>): Promise<number[]> {
  const p = (job.payload ?? {}) as Record<string, unknown>;
  const planGroups = async (planId: number | undefined) => (planId === undefined ? [] : ((await tx.plans.get(planId))?.groupIds ?? []));
  const orderGroups = async (orderId: string) => planGroups((await tx.orders.get(orderId))?.planId);
  const ids = new Set<number>();
  if (typeof p.orderId === 'string') for (const g of await orderGroups(p.orderId)) ids.add(g);
  if (typeof p.tradeNo === 'string') {
    const attempt = await tx.attempts.get(p.tradeNo);
    if (attempt) for (const g of await orderGroups(attempt.orderId)) ids.add(g);
  }
  const onlyIf = p.onlyIf as { membershipId?: unknown } | undefined;
  const membershipId = typeof p.membershipId === 'number' ? p.membershipId : typeof onlyIf?.membershipId === 'number' ? onlyIf.membershipId : undefined;
  if (membershipId !== undefined) {
    const m = await tx.memberships.get(membershipId);
    if (m) ids.add(m.groupId);
  }
  if (typeof p.subscriptionId === 'number') for (const g of await planGroups((await tx.subscriptions.get(p.subscriptionId))?.planId)) ids.add(g);
  if (typeof p.groupId === 'number') ids.add(p.groupId);
  if (Array.isArray(p.groupIds)) for (const g of p.groupIds) if (typeof g === 'number') ids.add(g);
  return [...ids].sort((x, y) => x - y);
}

/** Whether this scope covers the job: everything for the operator; for an owner, a job about their groups only. */
async function covers(tx: Repos, scope: GroupScope, job: Job): Promise<boolean> {
  if (scope.all) return true;
  const groups = await jobGroupIds(tx, job);
  return groups.length > 0 && groups.every((g) => inScope(scope, g));
}

async function ownerScope(deps: AppDeps, actor: Actor): Promise<GroupScope> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  return scope;
}

export interface JobCounts {
  rows: Array<{ lane: string; kind: string; status: JobStatus; count: number }>;
  /** Per status, over every lane and kind (dead: the overview's dead-letter figure for the operator). */
  byStatus: Record<JobStatus, number>;
}

/** The queue by lane, kind and status: numbers only, the same for every owner (see the head of this file). */
export async function jobCounts(deps: AppDeps, actor: Actor): Promise<JobCounts> {
  await ownerScope(deps, actor);
  const rows = await deps.store.jobs.countByKind();
  const byStatus: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, dead: 0 };
  for (const r of rows) byStatus[r.status] += r.count;
  return { rows, byStatus };
}

export interface DeadLetter {
  id: number;
  kind: string;
  lane: string;
  attempts: number;
  lastError: string | null;
  /** When it was given up on (its last change). */
  at: number;
  groupIds: number[];
}

/** How many dead letters an owner's page reads at most to find theirs (dead letters are rare; the operator pages). */
const OWNER_SCAN = 1000;

/** The dead letters this actor may see and retry, newest first (the operator: every one, keyset-paged). */
export async function listDeadLetters(deps: AppDeps, actor: Actor, q: { beforeId?: number; limit: number }): Promise<DeadLetter[]> {
  const scope = await ownerScope(deps, actor);
  const jobs = await deps.store.jobs.listDead(scope.all ? q : { ...(q.beforeId !== undefined ? { beforeId: q.beforeId } : {}), limit: OWNER_SCAN });
  const out: DeadLetter[] = [];
  for (const j of jobs) {
    if (out.length >= q.limit) break;
    const groupIds = await jobGroupIds(deps.store, j);
    if (!scope.all && !(groupIds.length > 0 && groupIds.every((g) => inScope(scope, g)))) continue;
    out.push({ id: j.id, kind: j.kind, lane: j.lane, attempts: j.attempts, lastError: j.lastError, at: j.updatedAt, groupIds });
  }
  return out;
}

/** One job as a dead letter this actor may retry (its status says whether it still is one); refused as in retryDeadLetter. */
export async function deadLetterOf(deps: AppDeps, actor: Actor, jobId: number): Promise<DeadLetter & { status: JobStatus }> {
  const scope = await ownerScope(deps, actor);
  const job = Number.isSafeInteger(jobId) ? await deps.store.jobs.get(jobId) : null;
  if (!job || !(await covers(deps.store, scope, job))) throw refusal(scope, jobId);
  const groupIds = await jobGroupIds(deps.store, job);
  return { id: job.id, kind: job.kind, lane: job.lane, attempts: job.attempts, lastError: job.lastError, at: job.updatedAt, groupIds, status: job.status };
}

const refusal = (scope: GroupScope, jobId: number) =>
  scope.all ? notFound(`no job with id ${jobId}`) : forbidden(`job ${jobId} is not about one of your groups`);

/**
 * A dead letter queued again (the console's "Retry"): due now, attempts from zero, audited. Only the one
 * request that finds it dead re-queues it: a second press (a double click) answers `already` and changes
 * nothing. An owner may retry only a dead letter about their own groups; any other job id, existing or not,
 * gets the same refusal, so they learn nothing about other owners' jobs.
 */
export async function retryDeadLetter(deps: AppDeps, input: { actor: Actor; jobId: number; reason?: string }): Promise<'retried' | 'already'> {
  const { actor, jobId } = input;
  const scope = await ownerScope(deps, actor);
  const now = deps.clock.now();
  const result = await deps.store.transaction(async (tx) => {
    const job = Number.isSafeInteger(jobId) ? await tx.jobs.get(jobId) : null;
    if (!job || !(await covers(tx, scope, job))) throw refusal(scope, jobId);
    if (!(await tx.jobs.requeueDead(job.id, now))) return 'already' as const;
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'job.retry',
      subjectType: 'job',
      subjectId: String(job.id),
      reason: input.reason ?? `dead letter ${job.kind} queued again`,
      detail: { kind: job.kind, attempts: job.attempts, lastError: job.lastError },
    });
    return 'retried' as const;
  });
  if (result === 'retried') {
    deps.logger.info({ jobId, actor: actorLabel(actor) }, 'dead letter queued again');
    deps.onJobsEnqueued?.();
  }
  return result;
}
