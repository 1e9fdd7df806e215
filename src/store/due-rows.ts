// Shared by every sweep and by the job claim: "take up to N due rows, skipping rows another instance
// holds". On PostgreSQL `id = ANY(ARRAY(…))` makes the locking subquery an InitPlan that runs once;
// with `id IN (…)` the planner may re-run it per outer row, each re-run skips rows this statement already
// updated, and the LIMIT slides. The outer `recheck` drops a row that changed while we waited for its lock.
// SQLite has one writer and the subquery reads the same snapshot as the update, so there the recheck is
// left out: with it, SQLite's planner may drive the update from an index on the recheck's columns (e.g.
// every `status = 'active'` member) and probe the id list per row, a cost that grows with the table, not
// with what is due (issue 14 part 7; test/store/store.test.ts "the sweeps read through their indexes").
import { type RawBuilder, sql } from 'kysely';
import type { Dialect } from './database.ts';

export function pickDue(dialect: Dialect, recheck: RawBuilder<unknown>, subquery: RawBuilder<unknown>): RawBuilder<unknown> {
  return dialect === 'postgres' ? sql`(${recheck}) AND id = ANY(ARRAY(${subquery} FOR UPDATE SKIP LOCKED))` : sql`id IN (${subquery})`;
}

/**
 * `FROM table` naming the due-rows index on SQLite. Its planner, without fresh statistics, may prefer
 * another index that merely starts with `status` (memberships_access_idx) and read every member in that
 * status; INDEXED BY pins the partial index (and fails loudly should it ever be missing). PostgreSQL's
 * planner picks the partial index by itself.
 */
export function fromIndexed(dialect: Dialect, table: string, index: string): RawBuilder<unknown> {
  return dialect === 'sqlite' ? sql`${sql.table(table)} INDEXED BY ${sql.raw(index)}` : sql`${sql.table(table)}`;
}
