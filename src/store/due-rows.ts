// Shared by every sweep and by the job claim: "take up to N due rows, skipping rows another instance
// holds". On PostgreSQL `id = ANY(ARRAY(…))` makes the locking subquery an InitPlan that runs once;
// with `id IN (…)` the planner may re-run it per outer row, each re-run skips rows this statement already
// updated, and the LIMIT slides. SQLite has one writer, so a plain `IN` is exact there.
import { type RawBuilder, sql } from 'kysely';
import type { Dialect } from './database.ts';

export function pickDue(dialect: Dialect, subquery: RawBuilder<unknown>): RawBuilder<unknown> {
  return dialect === 'postgres' ? sql`id = ANY(ARRAY(${subquery} FOR UPDATE SKIP LOCKED))` : sql`id IN (${subquery})`;
}
