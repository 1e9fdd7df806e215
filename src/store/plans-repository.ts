import type { Kysely } from 'kysely';
import type { Group, Plan } from '../app/model.ts';
import { toGroup } from './mappers.ts';
import type { Database, GroupRow, PlanRow } from './schema.ts';

const toPlan = (r: PlanRow, groupIds: number[]): Plan => ({
  id: r.id,
  name: r.name,
  priceMinor: r.price_minor,
  currency: r.currency,
  durationDays: r.duration_days,
  trialDays: r.trial_days,
  starsPrice: r.stars_price ?? null,
  recurring: r.recurring === 1,
  active: r.active === 1,
  createdAt: r.created_at,
  groupIds,
});

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
  return rows.map((r) =>
    toPlan(
      r,
      links.filter((l) => l.plan_id === r.id).map((l) => l.group_id),
    ),
  );
}

export async function insertPlan(
  db: Kysely<Database>,
  p: {
    name: string;
    priceMinor: number;
    currency: string;
    durationDays: number;
    groupIds: number[];
    starsPrice?: number | null;
    recurring?: boolean;
    trialDays?: number;
  },
  now: number,
): Promise<Plan> {
  const r = await db
    .insertInto('plans')
    .values({
      name: p.name,
      price_minor: p.priceMinor,
      currency: p.currency,
      duration_days: p.durationDays,
      stars_price: p.starsPrice ?? null,
      recurring: p.recurring ? 1 : 0,
      trial_days: p.trialDays ?? 0,
      created_at: now,
    })
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

/** One statement: the plan's row once per group (LEFT JOINs, so a plan without groups still comes back). */
export async function getPlanWithGroups(db: Kysely<Database>, id: number): Promise<{ plan: Plan; groups: Group[] } | null> {
  const rows = await db
    .selectFrom('plans as p')
    .leftJoin('plan_groups as pg', 'pg.plan_id', 'p.id')
    .leftJoin('groups as g', 'g.id', 'pg.group_id')
    .selectAll('g')
    .select([
      'p.id as plan_id',
      'p.name as plan_name',
      'p.price_minor as plan_price_minor',
      'p.currency as plan_currency',
      'p.duration_days as plan_duration_days',
      'p.trial_days as plan_trial_days',
      'p.stars_price as plan_stars_price',
      'p.recurring as plan_recurring',
      'p.active as plan_active',
      'p.created_at as plan_created_at',
      'pg.group_id as link_group_id',
    ])
    .where('p.id', '=', id)
    .orderBy('pg.group_id')
    .execute();
  const first = rows[0];
  if (!first) return null;
  const planRow: PlanRow = {
    id: first.plan_id,
    name: first.plan_name,
    price_minor: first.plan_price_minor,
    stars_price: first.plan_stars_price,
    recurring: first.plan_recurring,
    currency: first.plan_currency,
    duration_days: first.plan_duration_days,
    trial_days: first.plan_trial_days,
    active: first.plan_active,
    created_at: first.plan_created_at,
  };
  const groupIds = rows.flatMap((r) => (r.link_group_id === null ? [] : [r.link_group_id]));
  const groups = rows.flatMap((r) => (r.id === null ? [] : [toGroup(r as GroupRow)]));
  return { plan: toPlan(planRow, groupIds), groups };
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

export async function setPlanPrice(db: Kysely<Database>, id: number, p: { priceMinor: number; starsPrice: number | null }): Promise<void> {
  await db.updateTable('plans').set({ price_minor: p.priceMinor, stars_price: p.starsPrice }).where('id', '=', id).execute();
}
