// The playground clock's lead over real time (0010-clock-offset): one row, read by the service and the CLI.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export async function getClockOffset(db: Kysely<Database>): Promise<number> {
  const r = await db.selectFrom('clock_offset').select('offset_ms').where('id', '=', 1).executeTakeFirst();
  return r ? Number(r.offset_ms) : 0;
}

export async function setClockOffset(db: Kysely<Database>, offsetMs: number, now: number): Promise<void> {
  await db
    .insertInto('clock_offset')
    .values({ id: 1, offset_ms: offsetMs, updated_at: now })
    .onConflict((oc) => oc.column('id').doUpdateSet({ offset_ms: offsetMs, updated_at: now }))
    .execute();
}
