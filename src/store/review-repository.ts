// The join review store (migration 0013-join-review): applications (one per order held for review), the
// blacklist, the owner's questions and people's answers. The rules over them live in src/app/review.ts.
import { type Kysely, sql } from 'kysely';
import type { Application, ApplicationStatus, BlacklistEntry, GroupQuestion, Platform, ReviewAnswer, RuleVerdict } from '../app/model.ts';
import type { Repos } from '../app/ports.ts';
import type { BlacklistRow, Database, ReviewApplicationRow } from './schema.ts';

function parseArray<T>(json: string): T[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

const toApplication = (r: ReviewApplicationRow): Application => ({
  id: Number(r.id),
  orderId: r.order_id,
  accountId: r.account_id,
  status: r.status as ApplicationStatus,
  answers: parseArray<ReviewAnswer>(r.answers),
  verdicts: parseArray<RuleVerdict>(r.verdicts),
  bio: r.bio,
  appeal: r.appeal,
  appealedAt: r.appealed_at === null ? null : Number(r.appealed_at),
  deadline: Number(r.deadline),
  remindersSent: r.reminders_sent,
  ownerTold: r.owner_told === 1,
  decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  decidedBy: r.decided_by,
  reason: r.reason,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toBlacklist = (r: BlacklistRow): BlacklistEntry => ({
  id: Number(r.id),
  groupId: r.group_id,
  kind: r.kind as BlacklistEntry['kind'],
  platform: r.platform as Platform | null,
  value: r.value,
  reason: r.reason,
  addedBy: r.added_by,
  createdAt: Number(r.created_at),
});

/** Orders whose plan opens one of these groups. */
const ordersOpening = (db: Kysely<Database>, groupIds: number[]) =>
  db.selectFrom('orders').innerJoin('plan_groups', 'plan_groups.plan_id', 'orders.plan_id').select('orders.id').where('plan_groups.group_id', 'in', groupIds);

export function reviewRepo(db: Kysely<Database>): Repos['review'] {
  const getApplication = async (id: number) => {
    const r = await db.selectFrom('review_applications').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toApplication(r) : null;
  };
  return {
    async insertApplication(a, now) {
      const r = await db
        .insertInto('review_applications')
        .values({
          order_id: a.orderId,
          account_id: a.accountId,
          status: 'pending',
          answers: JSON.stringify(a.answers),
          verdicts: JSON.stringify(a.verdicts),
          deadline: a.deadline,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('order_id').doNothing())
        .returningAll()
        .executeTakeFirst();
      return r ? toApplication(r) : null;
    },

    getApplication,

    async findByOrder(orderId) {
      const r = await db.selectFrom('review_applications').selectAll().where('order_id', '=', orderId).executeTakeFirst();
      return r ? toApplication(r) : null;
    },

    async listApplications(q) {
      if (q.groupIds && q.groupIds.length === 0) return [];
      let query = db.selectFrom('review_applications').selectAll();
      if (q.status) query = query.where('status', '=', q.status);
      if (q.accountId !== undefined) query = query.where('account_id', '=', q.accountId);
      if (q.groupIds) query = query.where('order_id', 'in', ordersOpening(db, q.groupIds));
      const rows = await query.orderBy('id', 'desc').limit(q.limit).execute();
      return rows.map(toApplication);
    },

    async decide(id, to, d, now) {
      const r = await db
        .updateTable('review_applications')
        .set({ status: to, decided_at: now, decided_by: d.decidedBy, reason: d.reason, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async update(id, patch, now) {
      const set: Partial<{ answers: string; verdicts: string; bio: string | null; owner_told: number; updated_at: number }> = { updated_at: now };
      if (patch.answers) set.answers = JSON.stringify(patch.answers);
      if (patch.verdicts) set.verdicts = JSON.stringify(patch.verdicts);
      if (patch.bio !== undefined) set.bio = patch.bio;
      if (patch.ownerTold !== undefined) set.owner_told = patch.ownerTold ? 1 : 0;
      await db.updateTable('review_applications').set(set).where('id', '=', id).execute();
    },

    async setAppeal(id, text, now) {
      const r = await db
        .updateTable('review_applications')
        .set({ appeal: text, appealed_at: now, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('appeal', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async dueForTimeout(now, limit) {
      const rows = await db
        .selectFrom('review_applications')
        .selectAll()
        .where('status', '=', 'pending')
        .where('deadline', '<=', now)
        .orderBy('deadline')
        .limit(limit)
        .execute();
      return rows.map(toApplication);
    },

    async dueForReminder(q) {
      const rows = await db
        .selectFrom('review_applications')
        .selectAll()
        .where('status', '=', 'pending')
        .where('reminders_sent', '<', q.n)
        .where('created_at', '<=', q.createdBefore)
        .where('deadline', '>', q.now)
        .orderBy('id')
        .limit(q.limit)
        .execute();
      return rows.map(toApplication);
    },

    async markReminded(id, n) {
      const r = await db.updateTable('review_applications').set({ reminders_sent: n }).where('id', '=', id).where('reminders_sent', '<', n).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async counts(groupIds) {
      const none = { applications: 0, pending: 0, approved: 0, rejected: 0, timedOut: 0, meanDecisionMs: null };
      if (groupIds && groupIds.length === 0) return none;
      let byStatus = db.selectFrom('review_applications').select(['status', sql<number>`count(*)`.as('n')]);
      let mean = db
        .selectFrom('review_applications')
        .select(sql<number | string | null>`avg(decided_at - created_at)`.as('mean'))
        .where('decided_at', 'is not', null);
      if (groupIds) {
        byStatus = byStatus.where('order_id', 'in', ordersOpening(db, groupIds));
        mean = mean.where('order_id', 'in', ordersOpening(db, groupIds));
      }
      const rows = await byStatus.groupBy('status').execute();
      const n = (s: ApplicationStatus) => Number(rows.find((r) => r.status === s)?.n ?? 0);
      const m = (await mean.executeTakeFirst())?.mean;
      return {
        applications: rows.reduce((sum, r) => sum + Number(r.n), 0),
        pending: n('pending'),
        approved: n('approved'),
        rejected: n('rejected'),
        timedOut: n('timed_out'),
        meanDecisionMs: m === null || m === undefined ? null : Math.round(Number(m)),
      };
    },

    async addBlacklist(e, now) {
      const r = await db
        .insertInto('review_blacklist')
        .values({ group_id: e.groupId, kind: e.kind, platform: e.platform, value: e.value, reason: e.reason, added_by: e.addedBy, created_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toBlacklist(r);
    },

    async removeBlacklist(id) {
      const r = await db.deleteFrom('review_blacklist').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) === 1;
    },

    async getBlacklist(id) {
      const r = await db.selectFrom('review_blacklist').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toBlacklist(r) : null;
    },

    async listBlacklist(q) {
      const groupIds = q.groupIds ?? [];
      if (groupIds.length === 0 && !q.global && q.groupIds) return [];
      let query = db.selectFrom('review_blacklist').selectAll();
      if (q.groupIds) {
        query = query.where((eb) => {
          const parts = [];
          if (groupIds.length > 0) parts.push(eb('group_id', 'in', groupIds));
          if (q.global) parts.push(eb('group_id', 'is', null));
          return eb.or(parts);
        });
      } else if (!q.global) {
        query = query.where('group_id', 'is not', null);
      }
      const rows = await query.orderBy('id').execute();
      return rows.map(toBlacklist);
    },

    async addQuestion(groupId, text, now) {
      const r = await db.insertInto('group_questions').values({ group_id: groupId, text, created_at: now }).returningAll().executeTakeFirstOrThrow();
      return { id: Number(r.id), groupId: r.group_id, text: r.text };
    },

    async removeQuestion(id) {
      // The answers go with their question (they are nobody's record once it is gone; applications keep their copy).
      await db.deleteFrom('review_answers').where('question_id', '=', id).execute();
      const r = await db.deleteFrom('group_questions').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) === 1;
    },

    async listQuestions(groupId): Promise<GroupQuestion[]> {
      const rows = await db.selectFrom('group_questions').selectAll().where('group_id', '=', groupId).orderBy('id').execute();
      return rows.map((r) => ({ id: Number(r.id), groupId: r.group_id, text: r.text }));
    },

    async setAnswer(accountId, questionId, answer, now) {
      await db
        .insertInto('review_answers')
        .values({ account_id: accountId, question_id: questionId, answer, updated_at: now })
        .onConflict((oc) => oc.columns(['account_id', 'question_id']).doUpdateSet({ answer, updated_at: now }))
        .execute();
    },

    async answers(accountId, questionIds) {
      if (questionIds.length === 0) return new Map();
      const rows = await db
        .selectFrom('review_answers')
        .select(['question_id', 'answer'])
        .where('account_id', '=', accountId)
        .where('question_id', 'in', questionIds)
        .execute();
      return new Map(rows.map((r) => [r.question_id, r.answer]));
    },
  };
}
