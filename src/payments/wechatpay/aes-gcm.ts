// AEAD_AES_256_GCM, as WeChat Pay encrypts a notification's `resource`: key = the APIv3 key (32 bytes),
// IV = `nonce`, AAD = `associated_data` (may be empty), `ciphertext` = base64 of ciphertext ‖ 16-byte tag.
import { createDecipheriv } from 'node:crypto';

export const TAG_BYTES = 16;

export class DecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptError';
  }
}

export interface EncryptedResource {
  ciphertext: string;
  nonce: string;
  associated_data?: string | null;
}

export function apiV3KeyBytes(apiV3Key: string): Buffer {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) throw new Error('the WeChat Pay APIv3 key must be exactly 32 bytes');
  return key;
}

/** The plaintext (UTF-8), or DecryptError when the data was not encrypted with this key, nonce and AAD. */
export function decryptResource(r: EncryptedResource, key: Buffer): string {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(r.ciphertext)) throw new DecryptError('ciphertext is not base64');
  const data = Buffer.from(r.ciphertext, 'base64');
  if (data.length <= TAG_BYTES) throw new DecryptError('ciphertext is too short to hold the authentication tag');
  const nonce = Buffer.from(r.nonce, 'utf8');
  if (nonce.length === 0 || nonce.length > 64) throw new DecryptError('nonce has an impossible length');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    decipher.setAAD(Buffer.from(r.associated_data ?? '', 'utf8'));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new DecryptError('resource does not decrypt with the APIv3 key (wrong key, or altered data)');
  }
}
