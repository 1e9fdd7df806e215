// Owner/admin use cases for the catalogue: groups and plans. Called by the CLI, the admin API and
// (later) owner chat commands; every input is validated here so every adapter gets the same errors.
import { groupAudit } from './audit-entries.ts';
import { conflict, invalid, notFound } from '../domain/errors.ts';
import { isMembershipStatus, MEMBERSHIP_STATUSES, type MembershipStatus } from '../domain/membership.ts';
import { CURRENCIES, formatMoney, normalizeCurrency, parsePrice } from '../domain/money.ts';
import { parseStarsPrice, starsPriceOf } from '../domain/pricing.ts';
import { assertRenewable } from '../domain/renewal.ts';
import { type Actor, actorLabel, assertOwner, assertOwnerOf } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { offersFor } from './checkout.ts';
import { type Group, isPlatform, type Plan, type Platform } from './model.ts';
import type { MembershipView, Repos } from './ports.ts';
import { checkTrialDays } from './trials.ts';

export const MAX_PLAN_DAYS = 3660;

export async function addGroup(deps: AppDeps, input: { platform: string; chatId: string; title: string; actor: Actor }): Promise<Group> {
  const platform = input.platform;
  if (!isPlatform(platform)) throw invalid(`unknown platform "${platform}" (telegram, wechat or playground)`);
  const chatId = (input.chatId ?? '').trim();
  if (!chatId || chatId.length > 128) throw invalid('chat id must be 1–128 characters');
  const title = (input.title ?? '').trim();
  if (!title || title.length > 200) throw invalid('title must be 1–200 characters');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    if (await tx.groups.findByChat(platform, chatId)) throw conflict(`group ${platform}:${chatId} is already registered`);
    const g = await tx.groups.insert(
      {
        platform,
        platformChatId: chatId,
        title,
        ownerAccountId: input.actor.kind === 'account' ? input.actor.accountId : null,
        graceMs: deps.settings.defaultGraceMs,
        reminderOffsetsMs: deps.settings.defaultReminderOffsetsMs,
      },
      now,
    );
    await assertOwner(tx, input.actor);
    await tx.audit.insert(groupAudit(now, actorLabel(input.actor), g, 'group.add', `registered ${platform} chat ${chatId}`, { title }));
    return g;
  });
}

export interface AddPlanInput {
  groupIds: number[];
  name: string;
  price: string;
  currency: string;
  days: number;
  actor: Actor;
  /** Add it even when a plan on sale in one of its groups has the same name. */
  force?: boolean;
  /** The price in Telegram Stars (whole stars); unset: derived from STARS_PER_UNIT (domain/pricing.ts). */
  stars?: string | number;
  /** The payment rail renews it by itself (a length some rail can renew: 7, 30 or 365 days). */
  recurring?: boolean;
  /** Days of free trial a person may start once (issue 16; 0 or unset: none). */
  trialDays?: number;
}

export async function addPlan(deps: AppDeps, input: AddPlanInput): Promise<Plan> {
  const name = (input.name ?? '').trim();
  if (!name || name.length > 100) throw invalid('plan name must be 1–100 characters');
  const currency = normalizeCurrency(input.currency ?? '');
  const priceMinor = parsePrice(String(input.price ?? ''), currency);
  if (priceMinor === 0) throw invalid('price must be more than zero');
  if (!Number.isInteger(input.days) || input.days < 1 || input.days > MAX_PLAN_DAYS) throw invalid(`days must be a whole number from 1 to ${MAX_PLAN_DAYS}`);
  const starsPrice = input.stars === undefined || input.stars === null ? null : parseStarsPrice(input.stars);
  const recurring = input.recurring === true;
  if (recurring) assertRenewable(input.days);
  const trialDays = checkTrialDays(input.trialDays);
  const groupIds = [...new Set(input.groupIds)];
  if (groupIds.length === 0) throw invalid('a plan must open at least one group');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const groups = [];
    for (const id of groupIds) {
      const g = Number.isSafeInteger(id) ? await tx.groups.get(id) : null;
      if (!g) throw notFound(`no group with id ${String(id)}`);
      await assertOwnerOf(tx, input.actor, g);
      groups.push(g);
    }
    if (new Set(groups.map((g) => g.platform)).size > 1) throw invalid('a plan opens groups of one platform only');
    assertSellable(deps, { priceMinor, currency, starsPrice }, groups[0]!.platform);
    // Two plans on sale under one name: a buyer choosing between them could not tell which is which.
    if (!input.force) {
      const key = name.toLocaleLowerCase();
      for (const g of groups) {
        const same = (await tx.plans.list({ groupId: g.id })).find((p) => p.active && p.name.toLocaleLowerCase() === key);
        if (same) throw conflict(`group ${g.id} already has a plan on sale named "${same.name}" (plan ${same.id}); choose another name or disable that plan`);
      }
    }
    const plan = await tx.plans.insert({ name, priceMinor, currency, durationDays: input.days, groupIds, starsPrice, recurring, trialDays }, now);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'plan.add',
      subjectType: 'plan',
      subjectId: String(plan.id),
      reason: `new plan "${name}"`,
      detail: { priceMinor, currency, days: input.days, groupIds, starsPrice, recurring, trialDays },
    });
    return plan;
  });
}

/**
 * A plan's price is one its buyers can pay: on Telegram, a price in Stars (its own or one STARS_PER_UNIT derives),
 * and on every platform at least one enabled payment rail that sells it there (checkout's offersFor: a rail taking
 * its currency, or the Stars rail at its Stars price). Otherwise nobody could buy it: a clear refusal instead.
 */
function assertSellable(
  deps: Pick<AppDeps, 'settings' | 'providers'>,
  price: { priceMinor: number; currency: string; starsPrice: number | null },
  platform: Platform,
) {
  const { currency } = price;
  // Telegram requires digital goods sold in a bot to be purchasable with Stars (telegram.org/tos/bot-developers):
  // a Telegram plan needs a Stars price, its own or one STARS_PER_UNIT derives.
  if (platform === 'telegram' && starsPriceOf(price, deps.settings.starsRates ?? new Map()) === null)
    throw invalid(`a plan for a Telegram group needs a price in Telegram Stars: give one (--stars <n>, stars=<n>) or set STARS_PER_UNIT for ${currency}`);
  const candidate: Plan = { id: 0, name: '', ...price, durationDays: 30, trialDays: 0, recurring: false, active: true, createdAt: 0, groupIds: [] };
  if (offersFor(deps, candidate, platform).length > 0) return;
  const rails = [...deps.providers.values()].filter((p) => !p.chatPlatform || p.chatPlatform === platform);
  const taken = CURRENCIES.filter((c) => rails.some((p) => p.supportsCurrency(c)));
  const they = taken.length === 0 ? '' : `; they take ${taken.slice(0, 6).join(', ')}${taken.length > 6 ? ` and ${taken.length - 6} more` : ''}`;
  throw invalid(`no enabled payment provider takes ${currency} (enabled: ${rails.map((p) => p.name).join(', ') || 'none'}${they})`);
}

export interface SetPlanPriceInput {
  planId: number;
  actor: Actor;
  /** The new list price, a decimal in the plan's currency; unset: unchanged. */
  price?: string;
  /** The new Stars price (whole stars); null: none of its own (derived from STARS_PER_UNIT); unset: unchanged. */
  stars?: string | number | null;
}

/** A checked price change: the plan, its groups, and what it will cost (`changed`: it differs from now). */
export interface PlanPriceChange {
  plan: Plan;
  groups: Group[];
  priceMinor: number;
  starsPrice: number | null;
  changed: boolean;
}

async function checkPriceChange(deps: AppDeps, tx: Repos, input: SetPlanPriceInput): Promise<PlanPriceChange> {
  if (input.price === undefined && input.stars === undefined) throw invalid('nothing to change: give a price or a Stars price');
  await assertOwner(tx, input.actor);
  const found = Number.isSafeInteger(input.planId) ? await tx.plans.getWithGroups(input.planId) : null;
  if (!found) throw notFound(`no plan with id ${String(input.planId)}`);
  const { plan, groups } = found;
  for (const g of groups) await assertOwnerOf(tx, input.actor, g);
  if (!plan.active) throw conflict(`plan ${plan.id} is off sale: nobody can buy it, so it has no price to change`);
  const priceMinor = input.price === undefined ? plan.priceMinor : parsePrice(String(input.price), plan.currency);
  if (priceMinor === 0) throw invalid('price must be more than zero');
  const starsPrice = input.stars === undefined ? plan.starsPrice : input.stars === null ? null : parseStarsPrice(input.stars);
  if (groups[0]) assertSellable(deps, { priceMinor, currency: plan.currency, starsPrice }, groups[0].platform);
  return { plan, groups, priceMinor, starsPrice, changed: priceMinor !== plan.priceMinor || starsPrice !== plan.starsPrice };
}

/** What setPlanPrice would do, checked the same way, changing nothing (a confirmation step shows it first). */
export const previewPlanPrice = (deps: AppDeps, input: SetPlanPriceInput): Promise<PlanPriceChange> => checkPriceChange(deps, deps.store, input);

/**
 * Changes what a plan costs from now on. An order copies its amount when it is made, so orders already made
 * (paid, pending or held) keep the price they were made at; only new orders pay the new one.
 */
export async function setPlanPrice(deps: AppDeps, input: SetPlanPriceInput): Promise<Plan> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const { plan, priceMinor, starsPrice, changed } = await checkPriceChange(deps, tx, input);
    if (!changed) return plan;
    await tx.plans.setPrice(plan.id, { priceMinor, starsPrice });
    const shown = (minor: number, stars: number | null) => formatMoney(minor, plan.currency) + (stars === null ? '' : ` / ${stars} Stars`);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'plan.price',
      subjectType: 'plan',
      subjectId: String(plan.id),
      reason: `price ${shown(plan.priceMinor, plan.starsPrice)} → ${shown(priceMinor, starsPrice)} for new orders`,
      detail: { from: { priceMinor: plan.priceMinor, starsPrice: plan.starsPrice }, to: { priceMinor, starsPrice } },
    });
    return { ...plan, priceMinor, starsPrice };
  });
}

/**
 * Takes a plan off sale: no new checkout can pick it. Orders already made for it, and the memberships
 * they paid for, are untouched.
 */
export async function disablePlan(deps: AppDeps, input: { planId: number; actor: Actor; reason?: string }): Promise<Plan> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    await assertOwner(tx, input.actor);
    const plan = Number.isSafeInteger(input.planId) ? await tx.plans.get(input.planId) : null;
    if (!plan) throw notFound(`no plan with id ${String(input.planId)}`);
    for (const id of plan.groupIds) {
      const g = await tx.groups.get(id);
      if (g) await assertOwnerOf(tx, input.actor, g);
    }
    if (!plan.active) throw conflict(`plan ${plan.id} is already disabled`);
    await tx.plans.setActive(plan.id, false);
    const reason = (input.reason ?? '').trim().slice(0, 500) || `plan "${plan.name}" taken off sale`;
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'plan.disable',
      subjectType: 'plan',
      subjectId: String(plan.id),
      reason,
      detail: null,
    });
    return { ...plan, active: false };
  });
}

export async function listMembers(deps: AppDeps, filter: { groupId?: number; status?: string }): Promise<MembershipView[]> {
  if (filter.status !== undefined && !isMembershipStatus(filter.status)) throw invalid(`unknown status "${filter.status}" (${MEMBERSHIP_STATUSES.join(', ')})`);
  if (filter.groupId !== undefined && !(await deps.store.groups.get(filter.groupId))) throw notFound(`no group with id ${filter.groupId}`);
  return deps.store.memberships.list({ groupId: filter.groupId, status: filter.status as MembershipStatus | undefined });
}
