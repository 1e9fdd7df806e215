// Telegram Mini App launch data ("pay at the door", issue 18 part 5). A Mini App opened by Telegram gets
// `initData`, a query string signed with a key derived from the bot's token; the page posts it back and
// this checks it before anything is bound to the Telegram user it names.
//
// PROTOCOL (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):
//   data_check_string = every field except `hash`, as `key=value` (values URL-decoded), sorted by key,
//                       joined with "\n";
//   secret_key        = HMAC_SHA256(key = "WebAppData", message = bot_token);
//   hash              = hex(HMAC_SHA256(key = secret_key, message = data_check_string)).
// `auth_date` (Unix seconds) says when the data was signed: older than an hour is refused here, so a copy
// of someone's launch data cannot be replayed later. `user` is a JSON-serialised WebAppUser {id, first_name,
// last_name?, username?, language_code?} (core.telegram.org/bots/webapps#webappuser). A newer `signature`
// field (Ed25519, for third parties) is covered by the hash like any other field and not needed here.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { HOUR_MS } from '../domain/time.ts';

/** Launch data older than this is refused (the rule). */
export const INIT_DATA_MAX_AGE_MS = HOUR_MS;

export interface MiniAppUser {
  id: string;
  firstName: string;
  lastName: string | null;
  username: string | null;
  languageCode: string | null;
}

export type InitDataCheck =
  | { ok: true; user: MiniAppUser; authDate: number; queryId: string | null }
  | { ok: false; problem: 'missing' | 'malformed' | 'bad_hash' | 'expired' | 'no_user' };

const secretKey = (botToken: string) => createHmac('sha256', 'WebAppData').update(botToken).digest();

/** The hash Telegram puts in `initData` for these fields (everything but `hash`), signed for `botToken`. */
export function initDataHash(fields: Iterable<[string, string]>, botToken: string): string {
  const check = [...fields]
    .filter(([k]) => k !== 'hash')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  return createHmac('sha256', secretKey(botToken)).update(check).digest('hex');
}

/**
 * Checks `initData` (the raw query string) for `botToken` at `now`: a missing or malformed string, a hash that
 * is not this bot's, launch data older than INIT_DATA_MAX_AGE_MS (or from the future beyond a minute's skew),
 * or no user → refused with the reason; otherwise the Telegram user it names.
 */
export function checkInitData(initData: unknown, botToken: string, now: number): InitDataCheck {
  if (typeof initData !== 'string' || initData.trim() === '') return { ok: false, problem: 'missing' };
  if (initData.length > 4096) return { ok: false, problem: 'malformed' };
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(initData);
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  const hash = params.get('hash');
  if (!hash || !/^[0-9a-f]{64}$/.test(hash)) return { ok: false, problem: 'malformed' };
  const keys = [...params.keys()];
  if (new Set(keys).size !== keys.length) return { ok: false, problem: 'malformed' };
  const expected = Buffer.from(initDataHash(params.entries(), botToken), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(hash, 'hex'))) return { ok: false, problem: 'bad_hash' };
  const authDate = Number(params.get('auth_date'));
  if (!Number.isSafeInteger(authDate) || authDate <= 0) return { ok: false, problem: 'malformed' };
  const signedAt = authDate * 1000;
  if (now - signedAt > INIT_DATA_MAX_AGE_MS || signedAt - now > 60_000) return { ok: false, problem: 'expired' };
  let raw: unknown;
  try {
    raw = JSON.parse(params.get('user') ?? 'null');
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  const u = raw as Record<string, unknown> | null;
  if (!u || typeof u !== 'object' || !Number.isSafeInteger(u.id) || (u.id as number) <= 0) return { ok: false, problem: 'no_user' };
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v.slice(0, 128) : null);
  return {
    ok: true,
    authDate: signedAt,
    queryId: params.get('query_id'),
    user: {
      id: String(u.id),
      firstName: text(u.first_name) ?? '',
      lastName: text(u.last_name),
      username: text(u.username),
      languageCode: text(u.language_code),
    },
  };
}
