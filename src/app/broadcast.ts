// An owner's message to every member with access to a group. Queued in the broadcast lane, which goes
// after invites, removals, notices and reminders, and paced by each platform's limits.
import { groupAudit } from './audit-entries.ts';
import { invalid, notFound } from '../domain/errors.ts';
import { type Actor, actorLabel, assertOwnerOf } from './actors.ts';
import type { AppDeps } from './deps.ts';
import type { NotifyPayload } from './job-kinds.ts';
import { countOf } from '../domain/text.ts';

export const MAX_BROADCAST_CHARS = 2000;

export async function broadcast(deps: AppDeps, input: { actor: Actor; groupId: number; text: string }): Promise<{ queued: number }> {
  const text = (input.text ?? '').trim();
  if (!text) throw invalid('the broadcast text is empty');
  if (text.length > MAX_BROADCAST_CHARS) throw invalid(`a broadcast is at most ${MAX_BROADCAST_CHARS} characters`);
  const now = deps.clock.now();
  const queued = await deps.store.transaction(async (tx) => {
    const group = Number.isSafeInteger(input.groupId) ? await tx.groups.get(input.groupId) : null;
    if (!group) throw notFound(`no group with id ${String(input.groupId)}`);
    await assertOwnerOf(tx, input.actor, group);
    const members = [
      ...(await tx.memberships.list({ groupId: group.id, status: 'active' })),
      ...(await tx.memberships.list({ groupId: group.id, status: 'grace' })),
    ];
    await tx.jobs.enqueue(
      members.map((m) => ({
        kind: 'notify',
        lane: 'broadcast' as const,
        payload: { accountId: m.accountId, message: { key: 'broadcast', params: { group: group.title, text } } } satisfies NotifyPayload,
      })),
      now,
    );
    await tx.audit.insert(
      groupAudit(now, actorLabel(input.actor), group, 'group.broadcast', `broadcast to ${countOf(members.length, 'member', 'members')}`, {
        chars: text.length,
      }),
    );
    return members.length;
  });
  deps.onJobsEnqueued?.();
  return { queued };
}
