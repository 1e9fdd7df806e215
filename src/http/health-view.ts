// What /healthz shows to whom. Anyone may ask whether the service is up, so an unauthenticated caller
// sees state words only (ok, running, logged_in…): never a provider or API URL, an error text, a bot or
// account name, a QR code or a counter. The admin token (Bearer) sees every detail the adapters report.

/** Keys of an adapter's health entry that carry its state. */
const STATE_KEYS = new Set(['status', 'state', 'mode', 'loggedIn', 'runsHere']);
/** A state word: short, lower case, no spaces, no punctuation a URL or a message would need. */
const STATE_WORD = /^[a-z][a-z0-9_-]{0,31}$/;

const isState = (v: unknown) => typeof v === 'boolean' || (typeof v === 'string' && STATE_WORD.test(v));

/** Each adapter's entry cut down to its state words. */
export function publicHealth(extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(extra)) {
    if (isState(v)) out[name] = v;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v))
      out[name] = Object.fromEntries(Object.entries(v).filter(([k, x]) => STATE_KEYS.has(k) && isState(x)));
  }
  return out;
}
