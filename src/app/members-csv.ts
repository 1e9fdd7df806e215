// Members as CSV: one definition for `gatekeeper export members --format csv` and the console's download.
import type { MembershipView } from './ports.ts';
import { memberJson } from './views.ts';

/** What a spreadsheet may read as the start of a formula: = + - @, tab, CR, and the full-width ＝ ＋ － ＠. */
const TRIGGER = '[=+\\-@\\t\\r\\uFF1D\\uFF0B\\uFF0D\\uFF20]';
/** Spaces a spreadsheet may skip before it looks for a formula. */
const SPACES = '[ \\u3000]*';
const TRIGGER_AT_START = new RegExp(`^${SPACES}${TRIGGER}`);
/** A cell split at ; or , (a spreadsheet guessing another separator) must not start a formula either. */
const TRIGGER_AFTER_SEPARATOR = new RegExp(`([;,]${SPACES})(?=${TRIGGER})`, 'g');

/**
 * One CSV cell (OWASP's CSV-injection advice): numbers bare, every text cell quoted, and a formula trigger
 * at the start of the cell or after a ; or , inside it defused with a single quote before it.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  let s = value.replace(TRIGGER_AFTER_SEPARATOR, "$1'");
  if (TRIGGER_AT_START.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export const MEMBER_CSV_COLUMNS = ['membershipId', 'accountId', 'platform', 'platformUserId', 'displayName', 'groupId', 'status', 'expiresAt'] as const;

export const memberCsvHeader = () => MEMBER_CSV_COLUMNS.join(',');

export function memberCsvLine(m: MembershipView): string {
  const row = memberJson(m);
  return MEMBER_CSV_COLUMNS.map((c) => csvCell(row[c])).join(',');
}
