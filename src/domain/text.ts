// English counts for operator-facing text (CLI output, audit reasons, errors). People's messages go
// through the catalogues' plural syntax instead (src/conversation/template.ts).

const EN = new Intl.PluralRules('en');

/** "1 day", "0 days", "3 days": the count and its noun in the form Intl.PluralRules picks. */
export function countOf(n: number, one: string, other: string): string {
  return `${n} ${EN.select(n) === 'one' ? one : other}`;
}
