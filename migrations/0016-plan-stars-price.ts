// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A plan's price in Telegram Stars (XTR, whole stars), set by the owner; NULL: derived from STARS_PER_UNIT
  // when a Telegram member pays with Stars (Telegram requires Stars for digital goods sold in a bot).
  await db.schema.alterTable('plans').addColumn('stars_price', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('plans').dropColumn('stars_price').execute();
}
