// Bad input (issue 14 part 4): a provider (or someone replaying its traffic) sends a burst of 10,000
// duplicate notifications for a handful of orders, many at once, through the real webhook route. Each order
// is granted exactly once, every request is answered as the provider expects, and the process keeps no
// memory per request (nothing remembers the duplicates but the database).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect } from 'vitest';
import { DEV_SIGNATURE_HEADER } from '../../src/payments/dev/dev-provider.ts';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const ORDERS = 10;
const REQUESTS = 10_000;
const IN_FLIGHT = 32;
/** What the heap may grow by over the burst, after GC: generous (a retained string per request would be several MB). */
const HEAP_GROWTH_BOUND_MB = 8;

/** A full, synchronous GC without starting node with --expose-gc. */
function gcNow(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe.each(DIALECTS)('a burst of duplicate notifications (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it(
    `${REQUESTS.toLocaleString('en')} duplicates of ${ORDERS} payments: one grant each, every answer 200, bounded memory`,
    { timeout: 120_000 },
    async ({ t }) => {
      const deps = t.service.deps;
      const dev = t.service.devProvider!;
      const first = await seedOrderDirect(deps, { userId: 'u0' });
      const orders = [first.order];
      for (let i = 1; i < ORDERS; i++) orders.push((await seedOrderDirect(deps, { userId: `u${i}`, planId: first.planId })).order);

      // Per order: its notification, sent again as is (same event id) and re-keyed (same payment under a new
      // event id, as a reconcile query or a provider's second event type would bring it), signed properly.
      const variants = orders.map((o) => {
        const n = dev.pay(o);
        const parsed = JSON.parse(n.body.toString('utf8')) as { id: string };
        const rekeyed = Array.from({ length: 4 }, (_, k) => {
          const body = JSON.stringify({ ...parsed, id: `${parsed.id}_again${k}` });
          return { body: Buffer.from(body), headers: { 'content-type': 'application/json', [DEV_SIGNATURE_HEADER]: dev.sign(body) } };
        });
        return [n, n, n, n, ...rekeyed];
      });
      const request = (i: number) => {
        const forOrder = variants[i % ORDERS]!;
        return forOrder[Math.floor(i / ORDERS) % forOrder.length]!;
      };

      const statuses = new Map<number, number>();
      let next = 0;
      const sendUpTo = async (end: number) => {
        const lane = async () => {
          while (next < end) {
            const n = request(next++);
            const res = await t.service.app.inject({ method: 'POST', url: '/webhooks/dev', headers: n.headers, payload: n.body });
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
      };

      const gc = gcNow();
      // The first tenth warms up (JIT, prepared statements, pools); the heap is measured across the rest.
      await sendUpTo(REQUESTS / 10);
      gc();
      const before = process.memoryUsage().heapUsed;
      await sendUpTo(REQUESTS);
      gc();
      const grownMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;

      expect(Object.fromEntries(statuses)).toEqual({ 200: REQUESTS });
      const db = t.db.opened.db;
      const periods = await db.selectFrom('membership_periods').select('order_id').execute();
      expect(periods.map((p) => p.order_id).sort()).toEqual(orders.map((o) => o.id).sort());
      const charges = await db.selectFrom('payments').select(['order_id', 'kind']).execute();
      expect(charges).toHaveLength(ORDERS);
      const invites = await deps.store.jobs.list({ kind: 'invite' });
      expect(invites).toHaveLength(ORDERS);
      // One event row per distinct event id (5 per order), never one per request.
      const events = await db.selectFrom('webhook_events').select('outcome').execute();
      expect(events).toHaveLength(ORDERS * 5);
      expect(events.filter((e) => e.outcome === 'granted')).toHaveLength(ORDERS);
      expect(grownMb, `heap grew by ${grownMb.toFixed(1)} MB`).toBeLessThan(HEAP_GROWTH_BOUND_MB);
    },
  );
});
