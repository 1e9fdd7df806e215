import type { Kysely } from 'kysely';
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
  q: { subjectType?: string; subjectId?: string; action?: string; beforeId?: number; limit: number },
): Promise<AuditEntry[]> {
  let query = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(q.limit);
  if (q.subjectType) query = query.where('subject_type', '=', q.subjectType);
  if (q.subjectId) query = query.where('subject_id', '=', q.subjectId);
  if (q.action) query = query.where('action', '=', q.action);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  return (await query.execute()).map(toAudit);
}
