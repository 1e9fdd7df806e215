// Provider notifications. The body is kept as raw bytes because the signature covers those bytes;
// nothing is parsed before verification. Missing signature → 400, bad signature → 401 (logged, no
// idempotency slot taken), duplicates and ignored events → the provider's "received" answer. While the
// SQLite file is deleted or replaced (storageProblem) nothing is read or stored: 503, the provider retries.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { handleProviderEvent } from '../../app/confirm-payment.ts';
import { storageProblem } from '../../app/storage-guard.ts';
import type { AppDeps } from '../../app/deps.ts';
import { type PaymentProvider, WebhookRejectedError, type WebhookReply } from '../../app/ports.ts';
import type { HttpDeps } from '../deps.ts';

export const WEBHOOK_BODY_LIMIT = 64 * 1024;
/** processWebhook's outcome when the store's file is gone and nothing was done. */
export const STORAGE_UNAVAILABLE = 'storage_unavailable';

/** Verify, parse and handle one notification; shared by the webhook route and the dev "pay" button. */
export async function processWebhook(
  deps: AppDeps,
  provider: PaymentProvider,
  raw: Buffer,
  headers: Record<string, string | undefined>,
): Promise<WebhookReply & { outcome: string }> {
  // Before anything, even verification: a 2xx now would tell the provider a payment was booked into a
  // file nobody reads again, and it would never send it again. 503 in the provider's retry format.
  if (storageProblem(deps.store, deps.logger) !== null) return { ...provider.webhookReply('retry'), status: 503, outcome: STORAGE_UNAVAILABLE };
  let event;
  try {
    event = await provider.parseWebhook(raw, headers);
  } catch (err) {
    if (err instanceof WebhookRejectedError) {
      deps.logger.warn({ provider: provider.name, rejection: err.rejection, reason: err.message }, 'webhook rejected');
      const status = err.rejection === 'bad_signature' ? 401 : 400;
      return { status, body: JSON.stringify({ code: 'FAIL', message: err.message }), contentType: 'application/json', outcome: `rejected:${err.rejection}` };
    }
    throw err;
  }
  const outcome = await handleProviderEvent(deps, provider, event, raw.toString('utf8'));
  return { ...provider.webhookReply('ok'), outcome };
}

export function sendReply(reply: FastifyReply, r: WebhookReply) {
  reply.status(r.status);
  if (r.contentType) reply.type(r.contentType);
  return reply.send(r.body ?? '');
}

export async function webhookRoutes(app: FastifyInstance, deps: HttpDeps) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.post<{ Params: { provider: string } }>('/webhooks/:provider', async (req, reply) => {
    const provider = deps.app.providers.get(req.params.provider);
    if (!provider) return reply.status(404).send({ code: 'FAIL', message: 'unknown or disabled provider' });
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
    deps.webhookGate?.enter();
    try {
      return sendReply(reply, await processWebhook(deps.app, provider, raw, headers));
    } catch (err) {
      // Our own failure (database down…): ask the provider to retry, in its own format.
      req.log.error({ err, provider: provider.name }, 'webhook handling failed');
      return sendReply(reply, provider.webhookReply('retry'));
    } finally {
      deps.webhookGate?.leave();
    }
  });
}
