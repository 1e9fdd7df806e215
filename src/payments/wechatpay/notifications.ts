// A WeChat Pay notification, from raw bytes to a ProviderEvent. Order matters: headers and signature over
// the raw body first (nothing is parsed before), then the envelope, then the AES-GCM resource.
import { z } from 'zod';
import { type ProviderEvent, WebhookRejectedError } from '../../app/ports.ts';
import { DecryptError, decryptResource } from './aes-gcm.ts';
import { type Merchant, paidEventOf, Refund, refundedEventOf, Transaction } from './resources.ts';
import { type PlatformKey, SignatureCheckError, signedHeadersOf, verifyPlatformSignature } from './signing.ts';

const Envelope = z.object({
  id: z.string().min(1).max(128),
  create_time: z.string().max(64),
  event_type: z.string().min(1).max(64),
  resource_type: z.string().max(64).optional(),
  summary: z.string().max(256).optional(),
  resource: z.object({
    algorithm: z.string().max(64),
    ciphertext: z.string().min(1).max(60_000),
    nonce: z.string().min(1).max(64),
    associated_data: z.string().max(256).nullable().optional(),
    original_type: z.string().max(64).optional(),
  }),
});

export interface NotificationContext {
  platform: PlatformKey;
  apiV3Key: Buffer;
  merchant: Merchant;
  now: number;
}

export function verifyNotification(rawBody: Buffer, headers: Record<string, string | undefined>, ctx: NotificationContext): void {
  try {
    verifyPlatformSignature(
      signedHeadersOf((n) => headers[n]),
      rawBody,
      ctx.platform,
      ctx.now,
    );
  } catch (err) {
    if (!(err instanceof SignatureCheckError)) throw err;
    throw new WebhookRejectedError(err.failure === 'missing' ? 'missing_signature' : 'bad_signature', err.message);
  }
}

export function parseNotification(rawBody: Buffer, headers: Record<string, string | undefined>, ctx: NotificationContext): ProviderEvent {
  verifyNotification(rawBody, headers, ctx);

  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new WebhookRejectedError('malformed', 'body is not JSON');
  }
  const env = Envelope.safeParse(json);
  if (!env.success) throw new WebhookRejectedError('malformed', 'body is not a WeChat Pay notification');
  const n = env.data;

  const decrypt = <T>(schema: z.ZodType<T>): T => {
    if (n.resource.algorithm !== 'AEAD_AES_256_GCM')
      throw new WebhookRejectedError('malformed', `unsupported resource algorithm ${n.resource.algorithm.slice(0, 40)}`);
    let plain: string;
    try {
      plain = decryptResource(n.resource, ctx.apiV3Key);
    } catch (err) {
      if (err instanceof DecryptError) throw new WebhookRejectedError('malformed', err.message);
      throw err;
    }
    let inner: unknown;
    try {
      inner = JSON.parse(plain);
    } catch {
      throw new WebhookRejectedError('malformed', 'decrypted resource is not JSON');
    }
    const parsed = schema.safeParse(inner);
    if (!parsed.success) throw new WebhookRejectedError('malformed', 'decrypted resource lacks required fields');
    return parsed.data;
  };

  switch (n.event_type) {
    case 'TRANSACTION.SUCCESS': {
      const t = decrypt(Transaction);
      if (t.trade_state !== 'SUCCESS') return { type: 'ignored', eventId: n.id, reason: `transaction notification in state ${t.trade_state}` };
      const event = paidEventOf(t, n.id, ctx.merchant);
      if (!event) throw new WebhookRejectedError('malformed', 'paid transaction lacks transaction_id or a readable success_time');
      return event;
    }
    case 'REFUND.SUCCESS': {
      const r = decrypt(Refund);
      // Our key decrypted it, so it is ours; a refund under another mchid must not revoke anything here.
      if (r.mchid !== undefined && r.mchid !== ctx.merchant.mchid)
        return { type: 'ignored', eventId: n.id, reason: `refund notification for merchant ${r.mchid}` };
      const event = refundedEventOf(r, n.id, ctx.now);
      if (!event) throw new WebhookRejectedError('malformed', 'refund notification is not a readable successful refund');
      return event;
    }
    case 'REFUND.ABNORMAL':
    case 'REFUND.CLOSED':
      // The refund did not reach the payer. The order stays refund_pending; the owner has to act in the
      // merchant platform (the core has no event for a failed refund yet).
      return { type: 'ignored', eventId: n.id, reason: `refund did not complete (${n.event_type})` };
    default:
      return { type: 'ignored', eventId: n.id, reason: `event type ${n.event_type}` };
  }
}
