import { type Kysely, sql } from 'kysely';
import type { AuditEntry } from '../app/model.ts';
import { toAudit } from './mappers.ts';
import type { Database } from './schema.ts';

export async function insertAudit(db: Kysely<Database>, e: Omit<AuditEntry, 'id'>): Promise<void> {
  await insertAudits(db, [e]);
}

export async function insertAudits(db: Kysely<Database>, entries: Omit<AuditEntry, 'id'>[]): Promise<void> {
  for (let i = 0; i < entries.length; i += 500) {
    const chunk = entries.slice(i, i + 500);
    if (chunk.length === 0) continue;
    await db
      .insertInto('audit_log')
      .values(
        chunk.map((e) => ({
          at: e.at,
          actor: e.actor,
          action: e.action,
          subject_type: e.subjectType,
          subject_id: e.subjectId,
          reason: e.reason,
          detail: e.detail == null ? null : JSON.stringify(e.detail),
        })),
      )
      .execute();
  }
}

export async function listAudit(db: Kysely<Database>, filter: { subjectType?: string; subjectId?: string }): Promise<AuditEntry[]> {
  let q = db.selectFrom('audit_log').selectAll().orderBy('id');
  if (filter.subjectType) q = q.where('subject_type', '=', filter.subjectType);
  if (filter.subjectId) q = q.where('subject_id', '=', filter.subjectId);
  return (await q.execute()).map(toAudit);
}

export async function pageAudit(
  db: Kysely<Database>,
  q: { subjectType?: string; subjectId?: string; action?: string; beforeId?: number; groupIds?: number[]; limit: number },
): Promise<AuditEntry[]> {
  let query = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(q.limit);
  if (q.groupIds !== undefined) {
    // An owner's view: entries about those groups, their plans, their memberships and the orders of those plans.
    if (q.groupIds.length === 0) return [];
    const groups = q.groupIds;
    const text = (col: string) => sql<string>`CAST(${sql.ref(col)} AS TEXT)`;
    const plans = db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', groups);
    query = query.where((eb) =>
      eb.or([
        eb.and([eb('subject_type', '=', 'group'), eb('subject_id', 'in', groups.map(String))]),
        eb.and([
          eb('subject_type', '=', 'plan'),
          eb('subject_id', 'in', db.selectFrom('plan_groups').select(text('plan_groups.plan_id').as('sid')).where('plan_groups.group_id', 'in', groups)),
        ]),
        eb.and([
          eb('subject_type', '=', 'membership'),
          eb('subject_id', 'in', db.selectFrom('memberships').select(text('memberships.id').as('sid')).where('memberships.group_id', 'in', groups)),
        ]),
        eb.and([eb('subject_type', '=', 'order'), eb('subject_id', 'in', db.selectFrom('orders').select('orders.id').where('orders.plan_id', 'in', plans))]),
      ]),
    );
  }
  if (q.subjectType) query = query.where('subject_type', '=', q.subjectType);
  if (q.subjectId) query = query.where('subject_id', '=', q.subjectId);
  if (q.action) query = query.where('action', '=', q.action);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  return (await query.execute()).map(toAudit);
}
