// GET /metrics: Prometheus text, behind the admin token (it shows revenue). One Registry per app (never
// prom-client's global one: tests build many apps in one process). Business gauges read the shared
// database on every scrape, so any instance reports the same numbers; the outbound counters are this
// instance's own limiter (sum them across instances).
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import { adminAuth } from '../admin-auth.ts';
import type { HttpDeps } from '../deps.ts';
import { referralFigures } from '../../app/referrals.ts';
import { autoRenewFigures, growthFigures } from '../../app/stats.ts';

export function createMetricsRegistry(deps: HttpDeps): Registry {
  const registry = new Registry();
  const { store } = deps.app;

  countsGauge(registry, 'gatekeeper_orders', 'Orders by status.', ['status'], async () =>
    (await store.stats.ordersByStatus()).map((r) => ({ labels: { status: r.status }, count: r.count })),
  );

  new Gauge({
    name: 'gatekeeper_revenue_minor_total',
    help: 'All-time money moved per currency, in minor units (kind: charge, refund, net = charge - refund).',
    labelNames: ['currency', 'kind'] as const,
    registers: [registry],
    async collect() {
      const rows = await store.stats.revenueByCurrency();
      this.reset();
      for (const r of rows) {
        this.set({ currency: r.currency, kind: 'charge' }, r.chargesMinor);
        this.set({ currency: r.currency, kind: 'refund' }, r.refundsMinor);
        this.set({ currency: r.currency, kind: 'net' }, r.netMinor);
      }
    },
  });

  new Gauge({
    name: 'gatekeeper_refunds_on_request',
    help: 'All-time refunds members asked for within a refund window, per currency: how many (kind: count) and how much in minor units (kind: amount_minor).',
    labelNames: ['currency', 'kind'] as const,
    registers: [registry],
    async collect() {
      const rows = await store.stats.refundsOnRequest();
      this.reset();
      for (const r of rows) {
        this.set({ currency: r.currency, kind: 'count' }, r.count);
        this.set({ currency: r.currency, kind: 'amount_minor' }, r.amountMinor);
      }
    },
  });

  new Gauge({
    name: 'gatekeeper_auto_renew',
    help: 'Auto-renewal (app/stats.ts autoRenewFigures): people whose access renews itself (kind: members), their share of active members (kind: share), failed renewals counted (kind: failed_renewals).',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const f = await autoRenewFigures(store);
      this.reset();
      this.set({ kind: 'members' }, f.members);
      this.set({ kind: 'share' }, f.share);
      this.set({ kind: 'failed_renewals' }, f.failedRenewals);
    },
  });

  // Issue 16: the same definition as GET /api/stats's `referrals` (app/referrals.ts referralFigures), one query.
  new Gauge({
    name: 'gatekeeper_referral_rewards',
    help: 'Referral rewards by outcome (kind: booked, canceled, skipped, clawed_back) and the days booked rewards gave (kind: days).',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const r = await referralFigures(store);
      this.reset();
      this.set({ kind: 'booked' }, r.booked);
      this.set({ kind: 'days' }, r.days);
      this.set({ kind: 'canceled' }, r.canceled);
      this.set({ kind: 'skipped' }, r.skipped);
      this.set({ kind: 'clawed_back' }, r.clawedBack);
    },
  });

  new Gauge({
    name: 'gatekeeper_growth',
    help: 'Issue 16, all time (app/stats.ts growthFigures): free trials started (kind: trials_started), those whose person then paid for the plan (kind: trials_converted), coupon redemptions booked (kind: coupons_redeemed).',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const f = await growthFigures(store);
      this.reset();
      this.set({ kind: 'trials_started' }, f.trialsStarted);
      this.set({ kind: 'trials_converted' }, f.trialsConverted);
      this.set({ kind: 'coupons_redeemed' }, f.couponsRedeemed);
    },
  });

  new Gauge({
    name: 'gatekeeper_active_members',
    help: 'People with access now (active or in grace in at least one group).',
    registers: [registry],
    async collect() {
      this.set(await store.stats.activeMembers());
    },
  });

  countsGauge(registry, 'gatekeeper_memberships', 'Memberships (person x group) by status.', ['status'], async () =>
    (await store.stats.membersByStatus()).map((r) => ({ labels: { status: r.status }, count: r.count })),
  );

  // Join review (issue 17): the same definition as GET /api/stats's `reviews` (store.review.counts).
  new Gauge({
    name: 'gatekeeper_review_applications',
    help: 'Join review applications by status (pending, approved, rejected, timed_out).',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const c = await store.review.counts();
      this.reset();
      for (const [status, n] of [
        ['pending', c.pending],
        ['approved', c.approved],
        ['rejected', c.rejected],
        ['timed_out', c.timedOut],
      ] as const)
        this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'gatekeeper_review_decision_seconds_mean',
    help: 'Mean time from a join review application to its decision, in seconds (0 while none was decided).',
    registers: [registry],
    async collect() {
      this.set(((await store.review.counts()).meanDecisionMs ?? 0) / 1000);
    },
  });

  countsGauge(registry, 'gatekeeper_jobs', 'Outbox jobs by status and lane.', ['status', 'lane'], async () =>
    (await store.jobs.countByStatus()).map((r) => ({ labels: { status: r.status, lane: r.lane }, count: r.count })),
  );

  // Issue 14 part 5: jobs for a chat platform with no adapter configured on this instance are never
  // claimed here; they wait, queued, and are counted (a platform switched off with a backlog shows).
  countsGauge(
    registry,
    'gatekeeper_jobs_waiting_for_adapter',
    'Queued jobs for a chat platform whose adapter is not configured on this instance, by platform (never claimed here).',
    ['platform'],
    async () => (await store.jobs.waitingForAdapter([...deps.app.gateways.keys()])).map((r) => ({ labels: { platform: r.platform }, count: r.count })),
  );

  countsGauge(registry, 'gatekeeper_webhook_events', 'Recorded payment provider events by provider and outcome.', ['provider', 'outcome'], async () =>
    (await store.stats.webhookOutcomes()).map((r) => ({ labels: { provider: r.provider, outcome: r.outcome }, count: r.count })),
  );

  const outbound = deps.outbound;
  const fromMap = (c: Counter<'platform'>, m: Map<string, number> | undefined) => {
    c.reset();
    for (const [platform, n] of m ?? []) c.inc({ platform }, n);
  };
  new Counter({
    name: 'gatekeeper_outbound_calls_total',
    help: "Calls to chat platforms let through by this instance's rate limiter, by platform.",
    labelNames: ['platform'] as const,
    registers: [registry],
    collect() {
      fromMap(this, outbound?.calls);
    },
  });
  new Counter({
    name: 'gatekeeper_outbound_throttled_total',
    help: 'Rate-limit answers (429 retry_after) from chat platforms seen by this instance, by platform.',
    labelNames: ['platform'] as const,
    registers: [registry],
    collect() {
      fromMap(this, outbound?.throttled);
    },
  });

  return registry;
}

/** A gauge of counts by label, read afresh from the database on every scrape (labels that vanished are dropped). */
function countsGauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Promise<Array<{ labels: Record<L, string>; count: number }>>,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const r of rows) this.set(r.labels, r.count);
    },
  });
}

export async function metricsRoutes(app: FastifyInstance, deps: HttpDeps) {
  const registry = createMetricsRegistry(deps);
  app.get('/metrics', { onRequest: adminAuth(deps.adminToken) }, async (req, reply) => {
    let text: string;
    try {
      text = await registry.metrics();
    } catch (err) {
      req.log.error({ err: err instanceof Error ? err.message : String(err) }, 'metrics scrape failed');
      return reply.status(503).send({ error: 'unavailable', message: 'metrics are unavailable right now (database unreachable?)' });
    }
    return reply.header('cache-control', 'no-store').type(registry.contentType).send(text);
  });
}
