// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Pay at the door (Telegram guard bots, Bot API 10.1): a join request that came with a join-request query is
  // answered through that query (answerChatJoinRequestQuery), until the query lapses.
  await db.schema.alterTable('telegram_join_requests').addColumn('query_id', 'text').execute();
  await db.schema.alterTable('telegram_join_requests').addColumn('query_expires_at', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('telegram_join_requests').dropColumn('query_expires_at').execute();
  await db.schema.alterTable('telegram_join_requests').dropColumn('query_id').execute();
}
