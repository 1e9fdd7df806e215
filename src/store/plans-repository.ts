import type { Kysely } from 'kysely';
import type { Plan } from '../app/model.ts';
import type { Database, PlanRow } from './schema.ts';

async function withGroups(db: Kysely<Database>, rows: PlanRow[]): Promise<Plan[]> {
  if (rows.length === 0) return [];
  const links = await db
    .selectFrom('plan_groups')
    .selectAll()
    .where(
      'plan_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('group_id')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    priceMinor: r.price_minor,
    currency: r.currency,
    durationDays: r.duration_days,
    trialDays: r.trial_days,
    active: r.active === 1,
    createdAt: r.created_at,
    groupIds: links.filter((l) => l.plan_id === r.id).map((l) => l.group_id),
  }));
}

export async function insertPlan(
  db: Kysely<Database>,
  p: { name: string; priceMinor: number; currency: string; durationDays: number; groupIds: number[] },
  now: number,
): Promise<Plan> {
  const r = await db
    .insertInto('plans')
    .values({ name: p.name, price_minor: p.priceMinor, currency: p.currency, duration_days: p.durationDays, created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  await db
    .insertInto('plan_groups')
    .values(p.groupIds.map((g) => ({ plan_id: r.id, group_id: g })))
    .execute();
  const [plan] = await withGroups(db, [r]);
  return plan!;
}

export async function getPlan(db: Kysely<Database>, id: number): Promise<Plan | null> {
  const r = await db.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? (await withGroups(db, [r]))[0]! : null;
}

export async function listPlans(db: Kysely<Database>, opts: { groupId?: number; activeOnly?: boolean } = {}): Promise<Plan[]> {
  let q = db.selectFrom('plans').selectAll('plans').orderBy('plans.id');
  if (opts.activeOnly) q = q.where('plans.active', '=', 1);
  if (opts.groupId !== undefined) {
    const gid = opts.groupId;
    q = q.where((eb) =>
      eb.exists(
        eb.selectFrom('plan_groups').select('plan_groups.plan_id').whereRef('plan_groups.plan_id', '=', 'plans.id').where('plan_groups.group_id', '=', gid),
      ),
    );
  }
  return withGroups(db, await q.execute());
}

export async function setPlanActive(db: Kysely<Database>, id: number, active: boolean): Promise<void> {
  await db
    .updateTable('plans')
    .set({ active: active ? 1 : 0 })
    .where('id', '=', id)
    .execute();
}
