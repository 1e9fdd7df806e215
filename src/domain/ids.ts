import { randomBytes } from 'node:crypto';

/** 128 random bits, URL-safe: for anything a stranger can see (order ids in /pay/:id, claim codes). */
export function unguessableId(): string {
  return randomBytes(16).toString('base64url');
}

/** Provider-facing order number: 32 hex chars (128 bits), inside WeChat Pay's 6–32 [0-9A-Za-z_-] and Alipay's 64. */
export function newOutTradeNo(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The characters of a referral code: digits and capitals without look-alikes (no 0/O, 1/I/L), so a code read
 * off a screen and typed on a phone (WeChat has no deep links) comes out right; codes are read case-blind.
 */
export const REFERRAL_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const REFERRAL_CODE_LENGTH = 8;

/**
 * A person's invite code (issue 16): 8 of 31 characters, 31^8 ≈ 8.5 × 10^11 codes (39 bits). Short enough to
 * type; unguessable enough that enumerating codes pays nothing: even with a million members a random guess
 * names a real code once in ~850 000 tries, each try is a chat message (paced by the platform), and a hit only
 * records *the guesser* as referred by a stranger — a reward follows only when the guesser pays for a group the
 * stranger is a member of, which nobody does to farm days. Account ids (sequential) would let anyone walk them.
 */
export function newReferralCode(): string {
  let out = '';
  while (out.length < REFERRAL_CODE_LENGTH) {
    for (const b of randomBytes(16)) {
      // Rejection sampling: 248 = 8 × 31, so every character is equally likely.
      if (b < 248 && out.length < REFERRAL_CODE_LENGTH) out += REFERRAL_ALPHABET[b % 31];
    }
  }
  return out;
}
