// Stripe's v1 API takes `application/x-www-form-urlencoded` bodies (and query strings) with nested
// parameters written in brackets: `line_items[0][price_data][currency]=usd`, `metadata[k]=v`.
// Brackets are left readable, everything else is percent-encoded (what the official SDKs send).

export type FormValue = string | number | boolean | null | undefined | readonly FormValue[] | { readonly [key: string]: FormValue };

const encKey = (s: string) => encodeURIComponent(s).replace(/%5B/gi, '[').replace(/%5D/gi, ']');

function flatten(prefix: string, value: FormValue, out: Array<[string, string]>): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => flatten(`${prefix}[${i}]`, v, out));
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, FormValue>)) flatten(prefix ? `${prefix}[${k}]` : k, v, out);
    return;
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`Stripe parameter ${prefix} must be an integer, got ${value}`);
  out.push([prefix, String(value)]);
}

/** `{a: {b: 1}, c: ['x']}` → `a[b]=1&c[0]=x`. Undefined and null values are left out. */
export function encodeForm(params: { readonly [key: string]: FormValue }): string {
  const pairs: Array<[string, string]> = [];
  flatten('', params, pairs);
  return pairs.map(([k, v]) => `${encKey(k)}=${encodeURIComponent(v)}`).join('&');
}
