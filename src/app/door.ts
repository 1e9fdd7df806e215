// Pay at the door (issue 18 part 5): a group in `door` join mode lets a stranger pay while asking to join. The
// platform holds the join request open under a query (Telegram guard bots, Bot API 10.1); the bot answers at
// once by opening our checkout as a Mini App, and later answers the query: approve when the order is paid (the
// ordinary invite job, which finds the open query), decline when nothing was paid before the query lapses (the
// door_lapse job below). The rules live here; bots/telegram only carries them out.
import { z } from 'zod';
import { invalid, notFound, PlatformNotRunningError } from '../domain/errors.ts';
import { MINUTE_MS } from '../domain/time.ts';
import { type Actor, assertOwnerOf } from './actors.ts';
import { createCheckout, type CheckoutResult, type Offer, offersFor } from './checkout.ts';
import type { AppDeps } from './deps.ts';
import { defineJobKind } from './job-registry.ts';
import { checkInitData, type InitDataCheck } from './mini-app.ts';
import type { Group, Plan } from './model.ts';
import type { NewJob } from './ports.ts';
import { mayStay } from './roster.ts';

/**
 * How long we count on a join-request query staying answerable once its Mini App is open. The Bot API documents
 * only the first answer's 10 seconds (core.telegram.org/bots/api#chatjoinrequest: "must call
 * sendChatJoinRequestWebApp or directly call answerChatJoinRequestQuery within 10 seconds"), not how long the
 * opened Mini App may take; ten minutes is our assumption, long enough to pay with Stars or by card. A decline
 * at that point that Telegram refuses (it already let the query go) is handled as `lapsed`.
 */
export const DOOR_QUERY_LIFETIME_MS = 10 * MINUTE_MS;

/** The Mini App a door opens: our checkout for the group, in Mini App mode. */
export const doorUrl = (publicUrl: string, groupId: number) => `${publicUrl}/door/${groupId}`;

/**
 * The one-line refusal when an owner sets `door` where it cannot work: a group of a platform without
 * join-request queries, or a service whose PUBLIC_URL is not HTTPS (Telegram opens Mini Apps over HTTPS only).
 */
export function checkDoor(deps: Pick<AppDeps, 'settings'>, group: Group): void {
  if (group.platform !== 'telegram')
    throw invalid(`join mode door needs Telegram's join-request queries; group ${group.id} is a ${group.platform} group (use auto or review)`);
  if (!deps.settings.publicUrl.startsWith('https://'))
    throw invalid(`join mode door needs PUBLIC_URL to be an https:// address (Telegram opens Mini Apps over HTTPS only); it is ${deps.settings.publicUrl}`);
}

/**
 * The shared join-request link an owner posts anywhere for a group in `door` join mode (a new one each time;
 * Telegram: a join-request invite link), for /joinmode and the console. Null when the group is not in door mode
 * or its platform has no such link; a clear error when the platform does not run here.
 */
export async function doorLinkFor(deps: AppDeps, actor: Actor, group: Group): Promise<string | null> {
  await assertOwnerOf(deps.store, actor, group);
  if (group.joinMode !== 'door') return null;
  const gateway = deps.gateways.get(group.platform);
  if (!gateway) throw new PlatformNotRunningError(group.platform);
  return gateway.doorLink ? gateway.doorLink(group.platformChatId) : null;
}

/** What to do with someone asking to join a door group: let them in, turn them away, or show the checkout. */
export type DoorDecision = 'approve' | 'decline' | 'web_app';

export async function doorDecision(deps: AppDeps, group: Group, userId: string): Promise<DoorDecision> {
  const { store, clock } = deps;
  const account = await store.accounts.find(group.platform, userId);
  const membership = account ? (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0] : undefined;
  if (membership?.status === 'active' && membership.expiresAt > clock.now()) return 'approve';
  if (membership?.status === 'banned') return 'decline';
  const reason = await mayStay(store, group, { userId, name: null, role: 'member', accountId: account?.id ?? null });
  if (reason === 'owner' || reason === 'whitelisted') return 'approve';
  return 'web_app';
}

export const DOOR_LAPSE = defineJobKind('door_lapse', z.object({ groupId: z.number().int(), userId: z.string(), queryId: z.string() }));
export type DoorLapsePayload = z.output<typeof DOOR_LAPSE.schema>;

/** Queued with the open query, to run when it lapses; one per query. */
export const doorLapseJob = (p: DoorLapsePayload): NewJob =>
  DOOR_LAPSE.job(p, { lane: 'invite', about: { groupId: p.groupId }, dedupeKey: `door-lapse:${p.groupId}:${p.queryId}` });

/**
 * The query's time is up: someone who paid meanwhile is let in by their invite job (nothing to do here);
 * anyone else is turned away (they can ask again). Idempotent: the gateway answers only a query still waiting.
 */
export async function doorLapse(deps: AppDeps, p: DoorLapsePayload): Promise<void> {
  const { store, clock } = deps;
  const group = await store.groups.get(p.groupId);
  if (!group) return;
  const account = await store.accounts.find(group.platform, p.userId);
  const membership = account ? (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0] : undefined;
  if (membership?.status === 'active' && membership.expiresAt > clock.now()) return;
  const gateway = deps.gateways.get(group.platform);
  if (!gateway) throw new PlatformNotRunningError(group.platform);
  if (!gateway.closeDoor) return;
  const outcome = await gateway.closeDoor(group.platformChatId, p.userId, p.queryId);
  if (outcome === 'none') return;
  await store.audit.insert({
    at: clock.now(),
    actor: 'system',
    action: 'group.join_declined',
    subjectType: 'group',
    subjectId: String(group.id),
    reason:
      outcome === 'declined'
        ? `join request of ${group.platform} user ${p.userId} declined at the door: nothing paid before the query lapsed`
        : `join request of ${group.platform} user ${p.userId} lapsed at the door before anything was paid`,
    detail: { userId: p.userId, door: outcome },
  });
}

/** A door group's plans on sale and how each can be paid by a Telegram member (Stars included). */
export async function doorPlans(deps: AppDeps, groupId: number): Promise<{ group: Group; plans: Array<{ plan: Plan; offers: Offer[] }> }> {
  const group = Number.isSafeInteger(groupId) ? await deps.store.groups.get(groupId) : null;
  if (!group || group.joinMode !== 'door') throw notFound(`no door for group ${String(groupId)}`);
  const plans = await deps.store.plans.list({ groupId: group.id, activeOnly: true });
  return { group, plans: plans.map((plan) => ({ plan, offers: offersFor(deps, plan, group.platform) })).filter((p) => p.offers.length > 0) };
}

/**
 * A checkout from the door's Mini App: the launch data must be this bot's and fresh (app/mini-app.ts), and the
 * order is bound to the Telegram user it names (the account is upserted from it); the plan must open this group.
 */
export async function doorCheckout(
  deps: AppDeps,
  input: { groupId: number; initData: unknown; botToken: string; planId: number; provider: string },
): Promise<{ ok: true; result: CheckoutResult } | { ok: false; problem: Extract<InitDataCheck, { ok: false }>['problem'] }> {
  const check = checkInitData(input.initData, input.botToken, deps.clock.now());
  if (!check.ok) return check;
  const { plans } = await doorPlans(deps, input.groupId);
  if (!plans.some((p) => p.plan.id === input.planId)) throw invalid(`plan ${String(input.planId)} does not open this group`);
  const u = check.user;
  const result = await createCheckout(deps, {
    platform: 'telegram',
    userId: u.id,
    planId: input.planId,
    provider: input.provider,
    displayName: [u.firstName, u.lastName].filter(Boolean).join(' ') || u.username,
    locale: u.languageCode,
  });
  return { ok: true, result };
}
