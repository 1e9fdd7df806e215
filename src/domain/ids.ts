import { randomBytes } from 'node:crypto';

/** 128 random bits, URL-safe: for anything a stranger can see (order ids in /pay/:id, claim codes). */
export function unguessableId(): string {
  return randomBytes(16).toString('base64url');
}

/** Provider-facing order number: 32 hex chars (128 bits), inside WeChat Pay's 6–32 [0-9A-Za-z_-] and Alipay's 64. */
export function newOutTradeNo(): string {
  return randomBytes(16).toString('hex');
}
