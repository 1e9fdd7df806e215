// First start in playground mode: make sure there is something to buy. Goes through the same use
// cases as the CLI and the admin API, so the demo group and plan are ordinary rows with audit entries.
// They are named in DEFAULT_LOCALE (en "Playground group" / "Monthly", zh-CN 体验群 / 月度会员). A second group
// shows the join review (issue 17): in `review` mode with one question, so a newcomer sees a payment wait for
// the owner (who decides in the playground's owner chat, or with `gatekeeper member approve`). The demo group has
// a 7-day plan with a 3-day free trial next to it, and the demo coupon DEMO50 takes 50 % off the monthly plan (issue 16).
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { updateGroupSettings } from '../../src/app/group-settings.ts';
import { addQuestion } from '../../src/app/review.ts';
import { createCoupon } from '../../src/app/coupons.ts';
import type { Group, Plan } from '../../src/app/model.ts';

export const DEMO_CHAT_ID = 'demo-group';
export const DEMO_PLAN = { price: '9.90', currency: 'CNY', days: 30 } as const;
export const DEMO_REVIEW_CHAT_ID = 'demo-review-group';
export const DEMO_REVIEW_PLAN = { price: '19.90', currency: 'CNY', days: 30 } as const;
/** The demo plan's free trial and the demo coupon (issue 16). */
export const DEMO_TRIAL_PLAN = { price: '2.90', currency: 'CNY', days: 7, trialDays: 3 } as const;
export const DEMO_COUPON = 'DEMO50';

/** Creates the demo group and plan when no playground group exists yet; null when there already is one. */
export async function seedPlaygroundDemo(deps: AppDeps): Promise<{ group: Group; plan: Plan; trial: Plan; review: { group: Group; plan: Plan } } | null> {
  const existing = (await deps.store.groups.list()).some((g) => g.platform === 'playground');
  if (existing) return null;
  // Done by the operator starting the server, like a CLI command (audited as admin:cli).
  const actor: Actor = { kind: 'admin', via: 'cli' };
  const name = (key: string) => deps.messages.render(deps.settings.defaultLocale, { key, params: {} });
  const group = await addGroup(deps, { platform: 'playground', chatId: DEMO_CHAT_ID, title: name('demo.group_title'), actor });
  const plan = await addPlan(deps, {
    groupIds: [group.id],
    name: name('demo.plan_name'),
    price: DEMO_PLAN.price,
    currency: DEMO_PLAN.currency,
    days: DEMO_PLAN.days,
    actor,
  });
  // Issue 16: a short plan with a free trial next to it, and a coupon for the monthly plan.
  const trial = await addPlan(deps, {
    groupIds: [group.id],
    name: name('demo.trial_plan_name'),
    price: DEMO_TRIAL_PLAN.price,
    currency: DEMO_TRIAL_PLAN.currency,
    days: DEMO_TRIAL_PLAN.days,
    trialDays: DEMO_TRIAL_PLAN.trialDays,
    actor,
  });
  await createCoupon(deps, { code: DEMO_COUPON, percent: 50, planIds: [plan.id], actor });
  // The join review's demo: a review group with one question and a plan of its own.
  const reviewed = await addGroup(deps, { platform: 'playground', chatId: DEMO_REVIEW_CHAT_ID, title: name('demo.review_group_title'), actor });
  const review = {
    group: await updateGroupSettings(deps, { actor, groupId: reviewed.id, changes: { joinMode: 'review' } }),
    plan: await addPlan(deps, {
      groupIds: [reviewed.id],
      name: name('demo.review_plan_name'),
      price: DEMO_REVIEW_PLAN.price,
      currency: DEMO_REVIEW_PLAN.currency,
      days: DEMO_REVIEW_PLAN.days,
      actor,
    }),
  };
  await addQuestion(deps, actor, reviewed.id, name('demo.review_question'));
  return { group, plan, trial, review };
}
