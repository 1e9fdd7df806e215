// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

// Issue 14 part 3: a payer never waits behind removals. The one `access` lane (priority 0) becomes two:
// `invite` (0) ahead of `removal` (1), and every later lane moves down one (notice and system 2, reminder 3,
// broadcast 4). Jobs claim by (priority, run_at, id), so every row gets the priority of its new lane; an
// `access` row becomes `invite` when it is an invite job and `removal` otherwise (remove, the roster's
// remove_intruder and its two legacy kinds). Done and dead rows are relabelled too, so /metrics never shows
// a lane that no longer exists. The numbers are written out here, not read from app code.
const UP: Array<[lane: string, priority: number]> = [
  ['notice', 2],
  ['system', 2],
  ['reminder', 3],
  ['broadcast', 4],
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const [lane, priority] of UP) await db.updateTable('jobs').set({ priority }).where('lane', '=', lane).execute();
  await db.updateTable('jobs').set({ lane: 'invite', priority: 0 }).where('lane', '=', 'access').where('kind', '=', 'invite').execute();
  await db.updateTable('jobs').set({ lane: 'removal', priority: 1 }).where('lane', '=', 'access').execute();
}

const DOWN: Array<[lane: string, priority: number]> = [
  ['notice', 1],
  ['system', 1],
  ['reminder', 2],
  ['broadcast', 3],
];

export async function down(db: Kysely<any>): Promise<void> {
  await db.updateTable('jobs').set({ lane: 'access', priority: 0 }).where('lane', 'in', ['invite', 'removal']).execute();
  for (const [lane, priority] of DOWN) await db.updateTable('jobs').set({ priority }).where('lane', '=', lane).execute();
}
