// How long raw provider bodies are kept. A webhook's raw body (personal data: payer ids, amounts, sometimes
// names) is needed only for a while, to investigate a dispute; the parsed fields the ledger needs (orders,
// payments, the event's provider, id, order and outcome) stay forever. The sweep runs on every tick and
// empties at most `limit` bodies older than the retention, oldest first, so a first run on a big backlog
// spreads over several ticks.
import { DAY_MS } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';

export const DEFAULT_WEBHOOK_PAYLOAD_RETENTION_MS = 30 * DAY_MS;
export const WEBHOOK_PURGE_BATCH = 500;

export async function sweepWebhookPayloads(deps: Pick<AppDeps, 'store' | 'clock' | 'settings'>, limit = WEBHOOK_PURGE_BATCH): Promise<number> {
  const keepMs = deps.settings.webhookPayloadRetentionMs ?? DEFAULT_WEBHOOK_PAYLOAD_RETENTION_MS;
  return deps.store.webhookEvents.purgePayloads(deps.clock.now() - keepMs, limit);
}
