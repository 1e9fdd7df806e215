// Frozen: never import app code here, never edit after release — add a new migration instead.
//
// One roster store for every platform (issue 19): the whitelist and the dry-run intruder reports were kept
// twice, by the Telegram adapter (telegram_whitelist, telegram_groups.dry_run_at/by) and by the WeChat
// adapter (wechat_whitelist, wechat_audit_reports, wechat_rooms.confirmed_report_id). They move to
// `group_whitelist` and `roster_reports`; the old tables are dropped. The old columns of telegram_groups
// and wechat_rooms stay (SQLite cannot drop a column that references another table) but nothing reads them.
// A WeChat group whose policy was `remove` without a confirmed report acted as `report`: it is stored as such.
import { type CreateTableBuilder, type Kysely, PostgresAdapter, sql } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

const serialId =
  (db: Kysely<any>) =>
  (t: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

interface OldIntruder {
  contactId?: unknown;
  name?: unknown;
  handle?: unknown;
}
interface NewIntruder {
  userId?: unknown;
  name?: unknown;
  handle?: unknown;
}

const parseList = <T>(json: string): T[] => {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
};

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

async function fixSequence(db: Kysely<any>, table: string): Promise<void> {
  if (!isPg(db)) return;
  await sql`select setval(pg_get_serial_sequence(${table}, 'id'), coalesce((select max(id) from ${sql.table(table)}), 0) + 1, false)`.execute(db);
}

export async function up(db: Kysely<any>): Promise<void> {
  // People an owner lets stay in a group without a paid membership, on any platform. `handle` (WeChat's
  // WeChat ID) matches the person again after a contact id change.
  await db.schema
    .createTable('group_whitelist')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('platform_user_id', 'text', (c) => c.notNull())
    .addColumn('handle', 'text')
    .addColumn('name', 'text')
    .addColumn('added_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('added_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_whitelist_pk', ['group_id', 'platform_user_id'])
    .execute();

  // Dry-run intruder reports: who would be removed, as shown to the owner (requested_by) or sent to the
  // group's owners by the roster audit (requested_by null). `intruders` is a JSON array of
  // `{ userId, name, handle }`, numbered from 1 in the order stored.
  await db.schema
    .createTable('roster_reports')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('requested_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('intruders', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('roster_reports_group_idx').on('roster_reports').columns(['group_id', 'id']).execute();

  for (const r of await db.selectFrom('telegram_whitelist').selectAll().execute()) {
    await db
      .insertInto('group_whitelist')
      .values({ group_id: r.group_id, platform_user_id: r.user_id, handle: null, name: null, added_by: r.added_by, added_at: r.created_at })
      .onConflict((oc) => oc.columns(['group_id', 'platform_user_id']).doNothing())
      .execute();
  }
  for (const r of await db.selectFrom('wechat_whitelist').selectAll().orderBy('id').execute()) {
    await db
      .insertInto('group_whitelist')
      .values({ group_id: r.group_id, platform_user_id: r.contact_id, handle: r.handle, name: r.name, added_by: r.added_by, added_at: r.created_at })
      .onConflict((oc) => oc.columns(['group_id', 'platform_user_id']).doNothing())
      .execute();
  }
  // Report numbers the owners were sent stay the same.
  for (const r of await db.selectFrom('wechat_audit_reports').selectAll().orderBy('id').execute()) {
    const intruders = parseList<OldIntruder>(r.intruders)
      .filter((i) => typeof i === 'object' && i !== null && typeof i.contactId === 'string')
      .map((i) => ({ userId: i.contactId, name: str(i.name) ?? '', handle: str(i.handle) }));
    await db
      .insertInto('roster_reports')
      .values({
        id: r.id,
        group_id: r.group_id,
        requested_by: null,
        intruders: JSON.stringify(intruders),
        fingerprint: r.fingerprint,
        created_at: r.created_at,
      })
      .execute();
  }
  await fixSequence(db, 'roster_reports');
  // A Telegram dry run the owner saw: a report they asked for (its list is not known any more).
  for (const r of await db.selectFrom('telegram_groups').selectAll().where('dry_run_at', 'is not', null).execute()) {
    await db
      .insertInto('roster_reports')
      .values({ group_id: r.group_id, requested_by: r.dry_run_by, intruders: '[]', fingerprint: '', created_at: r.dry_run_at })
      .execute();
  }
  // WeChat treated `remove` without a confirmed report as `report`.
  const unconfirmed = await db
    .selectFrom('groups')
    .select('id')
    .where('platform', '=', 'wechat')
    .where('intruder_policy', '=', 'remove')
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('wechat_rooms')
            .select('wechat_rooms.group_id')
            .whereRef('wechat_rooms.group_id', '=', 'groups.id')
            .where('wechat_rooms.confirmed_report_id', 'is not', null),
        ),
      ),
    )
    .execute();
  if (unconfirmed.length > 0)
    await db
      .updateTable('groups')
      .set({ intruder_policy: 'report' })
      .where(
        'id',
        'in',
        unconfirmed.map((g) => g.id),
      )
      .execute();
  await db.updateTable('telegram_groups').set({ dry_run_at: null, dry_run_by: null }).execute();
  await db.updateTable('wechat_rooms').set({ confirmed_report_id: null, confirmed_by: null, confirmed_at: null }).execute();

  await db.schema.dropTable('telegram_whitelist').execute();
  await db.schema.dropTable('wechat_whitelist').execute();
  await db.schema.dropTable('wechat_audit_reports').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('telegram_whitelist')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('added_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('telegram_whitelist_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema
    .createTable('wechat_whitelist')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('contact_id', 'text', (c) => c.notNull())
    .addColumn('handle', 'text')
    .addColumn('name', 'text')
    .addColumn('added_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('wechat_whitelist_group_contact_uq', ['group_id', 'contact_id'])
    .execute();
  await db.schema
    .createTable('wechat_audit_reports')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('intruders', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('wechat_audit_reports_group_idx').on('wechat_audit_reports').columns(['group_id', 'id']).execute();

  const platforms = new Map((await db.selectFrom('groups').select(['id', 'platform']).execute()).map((g) => [g.id, g.platform as string]));
  for (const r of await db.selectFrom('group_whitelist').selectAll().orderBy('added_at').execute()) {
    if (platforms.get(r.group_id) === 'telegram')
      await db
        .insertInto('telegram_whitelist')
        .values({ group_id: r.group_id, user_id: r.platform_user_id, added_by: r.added_by, created_at: r.added_at })
        .execute();
    else if (platforms.get(r.group_id) === 'wechat')
      await db
        .insertInto('wechat_whitelist')
        .values({ group_id: r.group_id, contact_id: r.platform_user_id, handle: r.handle, name: r.name, added_by: r.added_by, created_at: r.added_at })
        .execute();
  }
  for (const r of await db.selectFrom('roster_reports').selectAll().orderBy('id').execute()) {
    if (platforms.get(r.group_id) === 'wechat') {
      const intruders = parseList<NewIntruder>(r.intruders)
        .filter((i) => typeof i === 'object' && i !== null && typeof i.userId === 'string')
        .map((i) => ({ contactId: i.userId, name: str(i.name) ?? '', handle: str(i.handle) }));
      await db
        .insertInto('wechat_audit_reports')
        .values({ id: r.id, group_id: r.group_id, intruders: JSON.stringify(intruders), fingerprint: r.fingerprint, created_at: r.created_at })
        .execute();
      // `remove` is only ever set after the owner saw a report: the latest one stands for it.
      const g = await db.selectFrom('groups').select('intruder_policy').where('id', '=', r.group_id).executeTakeFirst();
      if (g?.intruder_policy === 'remove')
        await db
          .updateTable('wechat_rooms')
          .set({ confirmed_report_id: r.id, confirmed_by: r.requested_by, confirmed_at: r.created_at })
          .where('group_id', '=', r.group_id)
          .execute();
    } else if (platforms.get(r.group_id) === 'telegram' && r.requested_by !== null) {
      await db.updateTable('telegram_groups').set({ dry_run_at: r.created_at, dry_run_by: r.requested_by }).where('group_id', '=', r.group_id).execute();
    }
  }
  await fixSequence(db, 'wechat_audit_reports');
  await db.schema.dropTable('roster_reports').execute();
  await db.schema.dropTable('group_whitelist').execute();
}
