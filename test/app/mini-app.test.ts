// initData of a Telegram Mini App (pay at the door): our check against launch data signed independently here
// with the recipe of core.telegram.org/bots/webapps (HMAC-SHA256 keyed by HMAC-SHA256("WebAppData", token)).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkInitData } from '../../src/app/mini-app.ts';

const TOKEN = '123456:door-test-token';
const OTHER = '654321:another-bots-token';
const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

/** Signs like Telegram does, written out here rather than with the code under test. */
function sign(fields: Record<string, string>, token: string): string {
  const secret = createHmac('sha256', 'WebAppData').update(token).digest();
  const dcs = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('\n');
  const hash = createHmac('sha256', secret).update(dcs).digest('hex');
  return new URLSearchParams({ ...fields, hash }).toString();
}

const user = JSON.stringify({ id: 4242, first_name: 'Ada', username: 'ada', language_code: 'en' });
const fresh = { auth_date: String(Math.floor(NOW / 1000) - 60), user, query_id: 'AAE1' };

describe('checkInitData', () => {
  it('accepts launch data signed for this bot and names its user', () => {
    const r = checkInitData(sign(fresh, TOKEN), TOKEN, NOW);
    expect(r).toMatchObject({ ok: true, user: { id: '4242', firstName: 'Ada', username: 'ada', languageCode: 'en' }, queryId: 'AAE1' });
  });

  it('refuses a bad hash (a field changed after signing)', () => {
    const signed = new URLSearchParams(sign(fresh, TOKEN));
    signed.set('user', JSON.stringify({ id: 1, first_name: 'Mallory' }));
    expect(checkInitData(signed.toString(), TOKEN, NOW)).toEqual({ ok: false, problem: 'bad_hash' });
  });

  it("refuses another bot's hash", () => {
    expect(checkInitData(sign(fresh, OTHER), TOKEN, NOW)).toEqual({ ok: false, problem: 'bad_hash' });
  });

  it('refuses launch data older than an hour, accepts it just inside the hour', () => {
    const old = { ...fresh, auth_date: String(Math.floor(NOW / 1000) - 3601) };
    expect(checkInitData(sign(old, TOKEN), TOKEN, NOW)).toEqual({ ok: false, problem: 'expired' });
    const edge = { ...fresh, auth_date: String(Math.floor(NOW / 1000) - 3599) };
    expect(checkInitData(sign(edge, TOKEN), TOKEN, NOW).ok).toBe(true);
  });

  it('refuses missing, malformed and user-less data', () => {
    expect(checkInitData(undefined, TOKEN, NOW)).toEqual({ ok: false, problem: 'missing' });
    expect(checkInitData('', TOKEN, NOW)).toEqual({ ok: false, problem: 'missing' });
    expect(checkInitData('user=x&hash=zz', TOKEN, NOW)).toEqual({ ok: false, problem: 'malformed' });
    const { user: _u, ...noUser } = fresh;
    expect(checkInitData(sign(noUser, TOKEN), TOKEN, NOW)).toEqual({ ok: false, problem: 'no_user' });
  });
});
