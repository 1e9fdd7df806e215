// An owner's message to every member with access to a group. Queued in the broadcast lane, which goes
// after invites, removals, notices and reminders, and paced by each platform's limits.
//
// Issue 15 part 6: each broadcast is recorded (figures only, not the text) and its notify jobs carry its id,
// so its progress is its jobs counted by status: sent (done), waiting (queued, or running, retries included)
// and failed (dead letters). The chat's /broadcast, the console's Broadcast page and any other caller go
// through `broadcast` below; the console's preview and recipient count through `previewBroadcast`, which
// reads the same recipients (`broadcastRecipients`, the one definition of who gets a broadcast).
import { groupAudit } from './audit-entries.ts';
import { invalid, notFound } from '../domain/errors.ts';
import type { MembershipStatus } from '../domain/membership.ts';
import { type Actor, actorLabel, assertOwnerOf, groupScope, inScope, ownedGroup, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { NOTIFY, notifyLocale } from './job-kinds.ts';
import type { Group } from './model.ts';
import type { Broadcast, BroadcastProgress, BroadcastRecipient, Repos } from './ports.ts';
import { countOf } from '../domain/text.ts';

export const MAX_BROADCAST_CHARS = 2000;
/** A broadcast goes to the members with access: active, or in their grace period. */
export const BROADCAST_STATUSES: readonly MembershipStatus[] = ['active', 'grace'];
/** How many recent broadcasts the console lists. */
export const RECENT_BROADCASTS = 20;

/** Who a broadcast to this group goes to, by membership id: the one definition the use case and the console's count share. */
export const broadcastRecipients = (tx: Repos, groupId: number): Promise<BroadcastRecipient[]> => tx.broadcasts.recipients(groupId, BROADCAST_STATUSES);

/** The text as it will be sent (trimmed), or one clear line why it cannot be. */
export function broadcastText(raw: string | undefined): string {
  // A browser posts a textarea's line breaks as CR LF: counted and sent as the one line break members see.
  const text = (raw ?? '').replace(/\r\n?/g, '\n').trim();
  if (!text) throw invalid('the broadcast text is empty');
  if (text.length > MAX_BROADCAST_CHARS) throw invalid(`a broadcast is at most ${MAX_BROADCAST_CHARS} characters (this one has ${text.length})`);
  return text;
}

/** The message a member gets (the catalogue's `broadcast` key). */
const broadcastMessage = (group: Group, text: string) => ({ key: 'broadcast', params: { group: group.title, text } });

export async function broadcast(
  deps: AppDeps,
  input: { actor: Actor; groupId: number; text: string },
): Promise<{ queued: number; broadcastId: number; groupId: number }> {
  const text = broadcastText(input.text);
  const now = deps.clock.now();
  const done = await deps.store.transaction(async (tx) => {
    const group = Number.isSafeInteger(input.groupId) ? await tx.groups.get(input.groupId) : null;
    if (!group) throw notFound(`no group with id ${String(input.groupId)}`);
    await assertOwnerOf(tx, input.actor, group);
    const members = await broadcastRecipients(tx, group.id);
    const actor = actorLabel(input.actor);
    const row = await tx.broadcasts.insert({ groupId: group.id, actor, textLength: text.length, recipients: members.length }, now);
    await tx.jobs.enqueue(
      members.map((m) => ({
        ...NOTIFY.job(
          { accountId: m.accountId, message: broadcastMessage(group, text), broadcastId: row.id },
          { lane: 'broadcast', about: { accountId: m.accountId } },
        ),
        broadcastId: row.id,
      })),
      now,
    );
    await tx.audit.insert(
      groupAudit(now, actor, group, 'group.broadcast', `broadcast to ${countOf(members.length, 'member', 'members')}`, {
        chars: text.length,
        broadcastId: row.id,
      }),
    );
    return { queued: members.length, broadcastId: row.id, groupId: group.id };
  });
  deps.onJobsEnqueued?.();
  return done;
}

export interface BroadcastPreview {
  group: Group;
  /** The text as it will be sent (trimmed). */
  text: string;
  recipients: number;
  /** The message as members will read it, once per language they read (the group's when nobody would get it). */
  previews: Array<{ locale: string; members: number; message: string }>;
}

/** What `broadcast` would send, to whom, without sending anything: the same checks, the same recipients. */
export async function previewBroadcast(deps: AppDeps, input: { actor: Actor; groupId: number; text: string }): Promise<BroadcastPreview> {
  const text = broadcastText(input.text);
  const group = await ownedGroup(deps.store, input.actor, input.groupId);
  const members = await broadcastRecipients(deps.store, group.id);
  const byLocale = new Map<string, number>();
  for (const m of members) {
    const locale = notifyLocale(m, deps.settings.defaultLocale);
    byLocale.set(locale, (byLocale.get(locale) ?? 0) + 1);
  }
  if (byLocale.size === 0) byLocale.set(group.defaultLocale ?? deps.settings.defaultLocale, 0);
  const message = broadcastMessage(group, text);
  const previews = [...byLocale].sort((a, b) => b[1] - a[1]).map(([locale, n]) => ({ locale, members: n, message: deps.messages.render(locale, message) }));
  return { group, text, recipients: members.length, previews };
}

/** How many people a broadcast to each of these groups (those the actor may see) would reach: the same statuses, counted in one statement. */
export async function recipientCounts(deps: AppDeps, actor: Actor, groups: Group[]): Promise<Map<number, number>> {
  const scope = await groupScope(deps.store, actor);
  const ids = groups.filter((g) => inScope(scope, g.id)).map((g) => g.id);
  const out = new Map<number, number>(ids.map((id) => [id, 0]));
  for (const c of await deps.store.broadcasts.recipientCounts(ids, BROADCAST_STATUSES)) out.set(c.groupId, c.count);
  return out;
}

/** A broadcast's jobs counted by status, read as progress. */
async function progressOf(tx: Repos, ids: number[]): Promise<Map<number, BroadcastProgress>> {
  const out = new Map<number, BroadcastProgress>(ids.map((id) => [id, { sent: 0, waiting: 0, failed: 0 }]));
  for (const c of await tx.broadcasts.jobCounts(ids)) {
    const p = out.get(c.broadcastId);
    if (!p) continue;
    if (c.status === 'done') p.sent += c.count;
    else if (c.status === 'dead') p.failed += c.count;
    else p.waiting += c.count;
  }
  return out;
}

export interface BroadcastStatus extends Broadcast {
  groupTitle: string;
  progress: BroadcastProgress;
}

/** One broadcast of the actor's groups with its progress; another owner's broadcast is "not found", like one that does not exist. */
export async function broadcastStatus(deps: AppDeps, actor: Actor, broadcastId: number): Promise<BroadcastStatus> {
  const scope = await groupScope(deps.store, actor);
  const b = Number.isSafeInteger(broadcastId) ? await deps.store.broadcasts.get(broadcastId) : null;
  if (!b || !inScope(scope, b.groupId)) throw notFound(`no broadcast with id ${String(broadcastId)}`);
  const group = await deps.store.groups.get(b.groupId);
  const progress = (await progressOf(deps.store, [b.id])).get(b.id)!;
  return { ...b, groupTitle: group?.title ?? `#${b.groupId}`, progress };
}

/** The newest broadcasts to the actor's groups, with their progress. */
export async function recentBroadcasts(deps: AppDeps, actor: Actor, limit = RECENT_BROADCASTS): Promise<BroadcastStatus[]> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && scope.groupIds.size === 0) return [];
  const list = await deps.store.broadcasts.listRecent({ groupIds: scopeFilter(scope), limit });
  const progress = await progressOf(
    deps.store,
    list.map((b) => b.id),
  );
  const titles = new Map((await deps.store.groups.list()).map((g) => [g.id, g.title]));
  return list.map((b) => ({ ...b, groupTitle: titles.get(b.groupId) ?? `#${b.groupId}`, progress: progress.get(b.id)! }));
}
