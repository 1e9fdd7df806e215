// Stripe-Signature: `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`. The expected v1 is the hex
// HMAC-SHA256 of `<t>.<raw body bytes>` keyed with the whole `whsec_…` secret. Several v1 entries appear
// while a secret is being rolled: any one matching is enough. Only the v1 scheme counts (v0 is a test
// scheme). The timestamp is part of the signed text, so checking it against our clock (5 minutes either
// way) stops replays of old deliveries.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookRejectedError } from '../../app/ports.ts';

export const STRIPE_SIGNATURE_HEADER = 'stripe-signature';
export const STRIPE_TOLERANCE_S = 300;

export interface ParsedSignatureHeader {
  timestamp: number;
  v1: string[];
}

/** Splits the header; throws `bad_signature` when it has no usable timestamp or no v1 signature. */
export function parseSignatureHeader(header: string): ParsedSignatureHeader {
  if (header.length > 4096) throw new WebhookRejectedError('bad_signature', 'Stripe-Signature header is too long');
  let timestamp: number | null = null;
  const v1: string[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== null) throw new WebhookRejectedError('bad_signature', 'Stripe-Signature has a bad or repeated timestamp');
      timestamp = Number(value);
    } else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) {
      v1.push(value.toLowerCase());
    }
  }
  if (timestamp === null) throw new WebhookRejectedError('bad_signature', 'Stripe-Signature has no timestamp');
  if (v1.length === 0) throw new WebhookRejectedError('bad_signature', 'Stripe-Signature has no v1 signature');
  return { timestamp, v1 };
}

export function expectedSignature(secret: string, timestamp: number, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/**
 * Verifies the header over the exact bytes received. Throws WebhookRejectedError (`missing_signature`
 * or `bad_signature`); returns the signed timestamp (seconds) when the delivery is genuine and fresh.
 */
export function verifyStripeSignature(rawBody: Buffer, header: string | undefined, secret: string, nowMs: number, toleranceS = STRIPE_TOLERANCE_S): number {
  if (header === undefined || header.trim() === '') throw new WebhookRejectedError('missing_signature', 'missing Stripe-Signature header');
  const parsed = parseSignatureHeader(header);
  const expected = expectedSignature(secret, parsed.timestamp, rawBody);
  let match = false;
  // Every candidate is compared in constant time, and all of them are, so timing says nothing about which.
  for (const sig of parsed.v1) if (timingSafeEqual(expected, Buffer.from(sig, 'hex'))) match = true;
  if (!match) throw new WebhookRejectedError('bad_signature', 'Stripe-Signature does not match the body');
  const ageS = Math.floor(nowMs / 1000) - parsed.timestamp;
  if (Math.abs(ageS) > toleranceS)
    throw new WebhookRejectedError('bad_signature', `Stripe-Signature timestamp is ${ageS} s away from now (tolerance ${toleranceS} s)`);
  return parsed.timestamp;
}
