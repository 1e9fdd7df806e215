// Frozen: never import app code here, never edit after release — add a new migration instead.
//
// Issue 21 part 5: one order, several rails. Each rail a person actually uses (JSAPI inside WeChat, H5 or
// Alipay WAP in a phone browser) is an attempt of the order with its own provider-facing trade number; the
// order's own out_trade_no stays its QR attempt (a row for it appears once a second rail is used, so every
// attempt of such an order is listed here). `prepay` keeps what re-showing the attempt needs (a JSAPI
// prepay_id, an H5 h5_url), `payer` the JSAPI openid it was made for. A second attempt paid anyway is
// refunded on its own: its charge and its refund live on the attempt row (paid_txn_id, out_refund_no …),
// never in the order's ledger, so the order's own refund balance never sees them.
//
// Also: the single-use, 10-minute `state` of an Official Account web authorization (oauth_states), and the
// openid a WeChat account pays with under an Official Account appid (payer_openids), so the next order
// pays without another redirect.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('payment_attempts')
    .addColumn('trade_no', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
    .addColumn('rail', 'text', (c) => c.notNull())
    .addColumn('payer', 'text')
    .addColumn('prepay', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('closed_at', 'bigint')
    .addColumn('paid_txn_id', 'text')
    .addColumn('paid_at', 'bigint')
    .addColumn('amount_minor', 'integer')
    .addColumn('out_refund_no', 'text')
    .addColumn('refund_id', 'text')
    .addColumn('refunded_at', 'bigint')
    .execute();
  await db.schema.createIndex('payment_attempts_order_idx').on('payment_attempts').columns(['order_id', 'created_at']).execute();

  await db.schema
    .createTable('oauth_states')
    .addColumn('state', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();

  await db.schema
    .createTable('payer_openids')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('appid', 'text', (c) => c.notNull())
    .addColumn('openid', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('payer_openids_pk', ['account_id', 'appid'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('payer_openids').execute();
  await db.schema.dropTable('oauth_states').execute();
  await db.schema.dropTable('payment_attempts').execute();
}
