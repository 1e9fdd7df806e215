// Alipay OpenAPI 2.0 (gateway.do) signatures, RSA2 = SHA256withRSA, base64.
//   request:      all params but `sign`, empty values left out, sorted by key, `k=v` joined by `&`, raw values;
//   response:     the exact JSON text of the `<method>_response` (or `error_response`) node;
//   notification: like a request, but without `sign` AND `sign_type`, over the URL-decoded values.
import { createPrivateKey, createPublicKey, type KeyObject, sign as rsaSign, verify as rsaVerify } from 'node:crypto';

export type AlipayParams = Record<string, string>;

/** The string to sign: keys sorted, `omit` and empty values left out, raw (not URL-encoded) values. */
export function signContent(params: AlipayParams, omit: readonly string[] = ['sign']): string {
  return Object.keys(params)
    .filter((k) => !omit.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

/** What an async notification's signature covers (Alipay leaves sign_type out of it). */
export function notificationSignContent(params: AlipayParams): string {
  return signContent(params, ['sign', 'sign_type']);
}

export function privateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

export function publicKey(pem: string): KeyObject {
  return createPublicKey(pem);
}

export function rsa2Sign(content: string, key: KeyObject): string {
  return rsaSign('sha256', Buffer.from(content, 'utf8'), key).toString('base64');
}

export function rsa2Verify(content: string, signature: string, key: KeyObject): boolean {
  // A base64 RSA signature; anything else is not one (and Buffer.from would silently drop junk).
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length % 4 !== 0) return false;
  try {
    return rsaVerify('sha256', Buffer.from(content, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * The members of a top-level JSON object as the exact source text of each value, so a signature over
 * one member's text can be checked without re-serializing (which would change `\/`, spacing, key order).
 * Returns null when `text` is not a JSON object.
 */
export function topLevelMembers(text: string): Map<string, string> | null {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const str = (): string | null => {
    if (text[i] !== '"') return null;
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) return null;
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return null;
    }
  };
  /** Skips one JSON value, returning its source text. */
  const value = (): string | null => {
    const start = i;
    if (text[i] === '"') return str() === null ? null : text.slice(start, i);
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '"') {
          if (str() === null) return null;
          continue;
        }
        if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') depth--;
        i++;
        if (depth === 0) return text.slice(start, i);
      }
      return null;
    }
    while (i < text.length && !',}] \t\r\n'.includes(text[i]!)) i++;
    return i > start ? text.slice(start, i) : null;
  };

  const members = new Map<string, string>();
  ws();
  if (text[i] !== '{') return null;
  i++;
  ws();
  if (text[i] === '}') return members;
  for (;;) {
    ws();
    const key = str();
    if (key === null) return null;
    ws();
    if (text[i] !== ':') return null;
    i++;
    ws();
    const v = value();
    // A key twice is ambiguous (which one was signed?): not an answer we read.
    if (v === null || members.has(key)) return null;
    members.set(key, v);
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] !== '}') return null;
    i++;
    ws();
    return i === text.length ? members : null;
  }
}
