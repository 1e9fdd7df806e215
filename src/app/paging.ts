// Opaque, tamper-evident paging cursors: base64url(JSON) + "." + HMAC. A cursor that was edited,
// truncated or made for another list is refused with one clear line instead of paging wrongly.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalid } from '../domain/errors.ts';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

export function pageLimit(raw: number | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(raw) || raw < 1 || raw > MAX_PAGE) throw invalid(`limit must be a whole number from 1 to ${MAX_PAGE}`);
  return raw;
}

export class Cursors {
  constructor(private readonly secret: string) {}

  private mac(list: string, body: string): Buffer {
    return createHmac('sha256', this.secret).update(`${list}\n${body}`).digest().subarray(0, 16);
  }

  encode(list: string, position: unknown): string {
    const body = Buffer.from(JSON.stringify(position)).toString('base64url');
    return `${body}.${this.mac(list, body).toString('base64url')}`;
  }

  decode<T>(list: string, cursor: string, check: (v: unknown) => v is T): T {
    const bad = () => invalid('the paging cursor is not valid; start again from the first page');
    const m = /^([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{22})$/.exec(cursor);
    if (!m) throw bad();
    const given = Buffer.from(m[2]!, 'base64url');
    const expected = this.mac(list, m[1]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (!check(value)) throw bad();
    return value;
  }
}
