// Raw webhook bodies are kept WEBHOOK_PAYLOAD_RETENTION_DAYS; the tick empties older ones, a bounded batch
// at a time, and keeps every parsed field (provider, event id, order, outcome) — on SQLite and PostgreSQL.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { sweepWebhookPayloads } from '../../src/app/retention.ts';
import { DIALECTS } from '../helpers/db.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const DAY = 86_400_000;

describe.each(DIALECTS)('webhook payload retention (%s)', (dialect) => {
  let t: TestService;
  afterEach(async () => {
    await t?.close();
  });

  const rows = async () =>
    (
      await sql<{
        event_id: string;
        payload: string;
        outcome: string;
        order_id: string | null;
        provider: string;
      }>`SELECT event_id, payload, outcome, order_id, provider FROM webhook_events ORDER BY event_id`.execute(t.db.opened.db)
    ).rows;

  it('the tick empties bodies older than the retention and keeps everything else', async () => {
    t = await startTestService(dialect, { WEBHOOK_PAYLOAD_RETENTION_DAYS: '7' });
    const { store } = t.service.deps;
    const start = t.clock.now();
    await store.webhookEvents.insertIfAbsent(
      { provider: 'dev', eventId: 'e1-old', orderId: 'ord1', outcome: 'granted', payload: '{"payer":"alice","amount":990}' },
      start,
    );
    await store.webhookEvents.insertIfAbsent(
      { provider: 'wechatpay', eventId: 'e2-old', orderId: null, outcome: 'unknown_order', payload: '{"resource":"…"}' },
      start + DAY,
    );
    await store.webhookEvents.insertIfAbsent(
      { provider: 'dev', eventId: 'e3-new', orderId: 'ord3', outcome: 'granted', payload: '{"payer":"carol"}' },
      start + 5 * DAY,
    );

    t.clock.set(start + 7 * DAY + 1); // e1 is past 7 days, e2 and e3 are not
    await t.service.scheduler.tick();
    expect((await rows()).map((r) => [r.event_id, r.payload])).toEqual([
      ['e1-old', ''],
      ['e2-old', '{"resource":"…"}'],
      ['e3-new', '{"payer":"carol"}'],
    ]);

    t.clock.set(start + 8 * DAY + 1); // now e2 too; e3 (day 5) is kept until day 12
    const result = await t.service.scheduler.tick();
    expect(result.webhookPayloads).toBe(1);
    expect(await rows()).toEqual([
      { event_id: 'e1-old', payload: '', outcome: 'granted', order_id: 'ord1', provider: 'dev' },
      { event_id: 'e2-old', payload: '', outcome: 'unknown_order', order_id: null, provider: 'wechatpay' },
      { event_id: 'e3-new', payload: '{"payer":"carol"}', outcome: 'granted', order_id: 'ord3', provider: 'dev' },
    ]);
    // The idempotency slot survives the purge: the same event is still a duplicate.
    expect(
      await store.webhookEvents.insertIfAbsent({ provider: 'dev', eventId: 'e1-old', orderId: 'ord1', outcome: 'granted', payload: 'again' }, t.clock.now()),
    ).toBe(false);
  });

  it('purges a bounded batch per run, oldest first', async () => {
    t = await startTestService(dialect);
    const { store } = t.service.deps;
    const start = t.clock.now();
    for (let i = 0; i < 7; i++)
      await store.webhookEvents.insertIfAbsent({ provider: 'dev', eventId: `e${i}`, orderId: null, outcome: 'granted', payload: `body ${i}` }, start + i);
    t.clock.set(start + 31 * DAY); // default retention: 30 days
    const deps = t.service.deps;
    expect(await sweepWebhookPayloads(deps, 3)).toBe(3);
    expect((await rows()).map((r) => r.payload)).toEqual(['', '', '', 'body 3', 'body 4', 'body 5', 'body 6']);
    expect(await sweepWebhookPayloads(deps, 3)).toBe(3);
    expect(await sweepWebhookPayloads(deps, 3)).toBe(1);
    expect(await sweepWebhookPayloads(deps, 3)).toBe(0);
    expect((await rows()).every((r) => r.payload === '')).toBe(true);
  });

  it('finds the kept bodies through the partial index of migration 0008', async () => {
    t = await startTestService(dialect);
    const db = t.db.opened.db;
    if (dialect !== 'sqlite') {
      const idx = await sql<{
        indexdef: string;
      }>`SELECT indexdef FROM pg_indexes WHERE indexname = 'webhook_events_payload_kept_idx' AND schemaname = current_schema()`.execute(db);
      expect(idx.rows[0]?.indexdef).toMatch(/WHERE \(payload <> ''::text\)/);
      return;
    }
    const plan = await sql<{
      detail: string;
    }>`EXPLAIN QUERY PLAN SELECT id FROM webhook_events WHERE payload <> '' AND received_at < 5 ORDER BY received_at LIMIT 10`.execute(db);
    expect(plan.rows.map((r) => r.detail).join(' ')).toMatch(/webhook_events_payload_kept_idx/);
  });
});
