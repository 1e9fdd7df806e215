// Who is doing an owner action, and on which groups. Admins (admin API with the token, the CLI on the
// server) may do anything. An account must be an owner (it redeemed a claim code), checked on every
// action, and acts only on its own groups: every group for an operator (a claim without --group, and
// every owner from before scoped claims), otherwise the groups its claims named and those it bound in
// chat; an account from the web playground, playground groups only. Every use case asks here: `assertOwnerOf` before acting on a group, `groupScope` /
// `visibleGroups` before showing a list or a figure.
import { forbidden, notFound } from '../domain/errors.ts';
import type { Group } from './model.ts';
import type { Repos } from './ports.ts';

export type Actor = { kind: 'admin'; via: 'api' | 'cli' | 'console' } | { kind: 'account'; accountId: number };

export const actorLabel = (a: Actor) => (a.kind === 'admin' ? `admin:${a.via}` : `account:${a.accountId}`);

/** The same refusal whatever the reason, so a non-owner learns nothing about what exists. */
export const notAllowed = () => forbidden('only an owner of this group can do that');

/** An owner acting outside their scope is told why, in one line. */
export const notYourGroup = (groupId: number) => forbidden(`group ${groupId} is not one of your groups; ask the operator for a claim code that covers it`);

/** What an actor may see and act on: every group, or these (none for an account that is not an owner). */
export type GroupScope = { all: true } | { all: false; owner: boolean; groupIds: ReadonlySet<number> };

const EVERY_GROUP: GroupScope = { all: true };

export async function groupScope(tx: Repos, actor: Actor): Promise<GroupScope> {
  if (actor.kind === 'admin') return EVERY_GROUP;
  // From the store every time: an owner flag or a scope is never cached.
  const account = await tx.accounts.get(actor.accountId);
  if (!account?.isOwner) return { all: false, owner: false, groupIds: new Set() };
  const scope = await tx.ownerScopes.get(account.id);
  // Owner powers gained in the web playground (anyone can open it) cover playground groups only: an
  // account on the `playground` platform never sees or acts on a Telegram or WeChat group, whatever its
  // claim said.
  if (account.platform === 'playground') {
    const playgroundGroups = (await tx.groups.list()).filter((g) => g.platform === 'playground' && (scope.all || scope.groupIds.includes(g.id)));
    return { all: false, owner: true, groupIds: new Set(playgroundGroups.map((g) => g.id)) };
  }
  return scope.all ? EVERY_GROUP : { all: false, owner: true, groupIds: new Set(scope.groupIds) };
}

/** Whether the actor acts over every group (an operator, or an owner whose claim covers all): what the console shows operators. */
export const coversEveryGroup = async (tx: Repos, actor: Actor): Promise<boolean> => (await groupScope(tx, actor)).all;

export const inScope = (scope: GroupScope, groupId: number) => scope.all || scope.groupIds.has(groupId);

/** The group ids a query must be limited to; undefined: no limit (every group). */
export const scopeFilter = (scope: GroupScope): number[] | undefined => (scope.all ? undefined : [...scope.groupIds]);

/** The groups this actor may see (admins and operators: every group). */
export async function visibleGroups(tx: Repos, actor: Actor): Promise<Group[]> {
  const scope = await groupScope(tx, actor);
  return (await tx.groups.list()).filter((g) => inScope(scope, g.id));
}

/** Whether this account owns the group (an operator owns every group). */
export async function ownsGroup(tx: Repos, accountId: number, groupId: number): Promise<boolean> {
  return inScope(await groupScope(tx, { kind: 'account', accountId }), groupId);
}

/**
 * Who is told about a group's business (alerts): every owner whose scope covers one of these groups —
 * operators, owners whose claims named them, the owner who bound them. No groups (an alert about no
 * group in particular, e.g. an unknown order): operators only, never owners of unrelated groups.
 */
export async function ownersToTell(tx: Repos, groupIds: readonly number[]): Promise<number[]> {
  const out: number[] = [];
  for (const owner of await tx.accounts.listOwners()) {
    const scope = await groupScope(tx, { kind: 'account', accountId: owner.id });
    if (groupIds.length === 0 ? scope.all : groupIds.some((id) => inScope(scope, id))) out.push(owner.id);
  }
  return out;
}

export async function assertOwner(tx: Repos, actor: Actor): Promise<void> {
  if (actor.kind === 'admin') return;
  const account = await tx.accounts.get(actor.accountId);
  if (!account?.isOwner) throw notAllowed();
}

/** An owner acts only on groups in their scope; a non-owner is refused without learning anything. */
export async function assertOwnerOf(tx: Repos, actor: Actor, group: Group): Promise<void> {
  const scope = await groupScope(tx, actor);
  if (inScope(scope, group.id)) return;
  throw !scope.all && scope.owner ? notYourGroup(group.id) : notAllowed();
}

/**
 * A group the actor owns (or an admin acts on), read in `tx`; a clear error otherwise. A non-owner asking about
 * a group that does not exist is refused like any other non-owner (they learn nothing about which ids exist).
 */
export async function ownedGroup(tx: Repos, actor: Actor, groupId: number): Promise<Group> {
  const group = Number.isSafeInteger(groupId) ? await tx.groups.get(groupId) : null;
  if (!group) {
    if (actor.kind === 'account' && !(await tx.accounts.get(actor.accountId))?.isOwner) throw notAllowed();
    throw notFound(`no group with id ${String(groupId)}`);
  }
  await assertOwnerOf(tx, actor, group);
  return group;
}
