// WECHATPAY2-SHA256-RSA2048: how we sign our requests and how we check what WeChat Pay signs (its API
// answers and its notifications). Both are SHA256withRSA, base64, over lines that each end in "\n".
import { createPrivateKey, createPublicKey, createSign, createVerify, type KeyObject, randomBytes } from 'node:crypto';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat Pay deliberately sends a few signatures with this prefix to see whether merchants really verify. */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';
/** Allowed distance between a signed timestamp and our clock, both ways. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export const loadPrivateKey = (pem: string): KeyObject => createPrivateKey(pem);
/** A public key PEM, or a platform certificate PEM (its public key is used). */
export const loadPublicKey = (pem: string): KeyObject => createPublicKey(pem);

/** `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` (a GET has an empty body; the last "\n" stays). */
export function requestMessage(method: string, pathAndQuery: string, timestamp: number | string, nonce: string, body: string): string {
  return `${method}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** `TIMESTAMP\nNONCE\nBODY\n`, for API answers and notifications alike (a 204 has an empty body). */
export function responseMessage(timestamp: number | string, nonce: string, body: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), Buffer.from('\n')]);
}

export function signSha256Rsa(message: string | Buffer, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(message).sign(privateKey, 'base64');
}

export function verifySha256Rsa(message: string | Buffer, signatureB64: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64)) return false;
  try {
    return createVerify('RSA-SHA256').update(message).verify(publicKey, signatureB64, 'base64');
  } catch {
    return false;
  }
}

/** 32 characters of [0-9A-Za-z]. */
export function newNonce(): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  // 248 = 4 × 62: bytes at or above it are dropped so every character is equally likely.
  let out = '';
  for (let round = 0; round < 8 && out.length < 32; round++) {
    for (const b of randomBytes(48)) {
      if (b < 248 && out.length < 32) out += alphabet[b % 62];
    }
  }
  return out;
}

export interface MerchantCredentials {
  mchid: string;
  serial: string;
  privateKey: KeyObject;
}

/** The Authorization header for one request. */
export function authorization(cred: MerchantCredentials, method: string, pathAndQuery: string, body: string, timestamp: number, nonce = newNonce()): string {
  const signature = signSha256Rsa(requestMessage(method, pathAndQuery, timestamp, nonce, body), cred.privateKey);
  return `${AUTH_SCHEMA} mchid="${cred.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${cred.serial}"`;
}

export interface SignedHeaders {
  timestamp: string | undefined;
  nonce: string | undefined;
  signature: string | undefined;
  serial: string | undefined;
}

export function signedHeadersOf(get: (name: string) => string | null | undefined): SignedHeaders {
  const v = (name: string) => get(name) ?? undefined;
  return { timestamp: v('wechatpay-timestamp'), nonce: v('wechatpay-nonce'), signature: v('wechatpay-signature'), serial: v('wechatpay-serial') };
}

export type SignatureFailure = 'missing' | 'wrong_serial' | 'signtest' | 'bad_timestamp' | 'stale' | 'mismatch';

export class SignatureCheckError extends Error {
  constructor(
    readonly failure: SignatureFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SignatureCheckError';
  }
}

export interface PlatformKey {
  serial: string;
  publicKey: KeyObject;
}

/**
 * Checks WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n` with the platform key the serial names.
 * Throws SignatureCheckError saying what was wrong; returns normally only for a genuine signature.
 */
export function verifyPlatformSignature(h: SignedHeaders, body: string | Buffer, platform: PlatformKey, nowMs: number): void {
  if (!h.timestamp || !h.nonce || !h.signature || !h.serial)
    throw new SignatureCheckError('missing', 'missing Wechatpay-Timestamp, -Nonce, -Signature or -Serial header');
  // Certificate serials are hex and may be written in either case; PUB_KEY_ID_… ids are compared the same way.
  if (h.serial.toUpperCase() !== platform.serial.toUpperCase()) throw new SignatureCheckError('wrong_serial', 'Wechatpay-Serial names a key we do not hold');
  if (h.signature.startsWith(SIGNTEST_PREFIX)) throw new SignatureCheckError('signtest', 'signature probe (WECHATPAY/SIGNTEST/)');
  if (!/^\d{1,12}$/.test(h.timestamp)) throw new SignatureCheckError('bad_timestamp', 'Wechatpay-Timestamp is not a number of seconds');
  if (Math.abs(nowMs - Number(h.timestamp) * 1000) > MAX_CLOCK_SKEW_MS)
    throw new SignatureCheckError('stale', 'Wechatpay-Timestamp is more than 5 minutes off');
  if (h.nonce.length > 64) throw new SignatureCheckError('mismatch', 'Wechatpay-Nonce is too long');
  if (!verifySha256Rsa(responseMessage(h.timestamp, h.nonce, body), h.signature, platform.publicKey))
    throw new SignatureCheckError('mismatch', 'Wechatpay-Signature does not match');
}
