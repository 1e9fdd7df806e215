// Who is doing an owner action. Admins (admin API with the token, the CLI on the server) may do
// anything; an account must be an owner (it redeemed a claim code), checked on every action.
import { forbidden } from '../domain/errors.ts';
import type { Group } from './model.ts';
import type { Repos } from './ports.ts';

export type Actor = { kind: 'admin'; via: 'api' | 'cli' } | { kind: 'account'; accountId: number };

export const actorLabel = (a: Actor) => (a.kind === 'admin' ? `admin:${a.via}` : `account:${a.accountId}`);

/** The same refusal whatever the reason, so a non-owner learns nothing about what exists. */
export const notAllowed = () => forbidden('only an owner of this group can do that');

export async function assertOwner(tx: Repos, actor: Actor): Promise<void> {
  if (actor.kind === 'admin') return;
  const account = await tx.accounts.get(actor.accountId);
  if (!account?.isOwner) throw notAllowed();
}

/** An owner acts on groups they bound, and on groups registered by an admin (no owner yet). */
export async function assertOwnerOf(tx: Repos, actor: Actor, group: Group): Promise<void> {
  await assertOwner(tx, actor);
  if (actor.kind === 'account' && group.ownerAccountId !== null && group.ownerAccountId !== actor.accountId) throw notAllowed();
  if (actor.kind === 'account' && !(await playgroundConfined(tx, actor.accountId, group))) throw notAllowed();
}

/**
 * Owner powers gained in the web playground (anyone can open it) cover playground groups only: an
 * account on the `playground` platform never acts on a Telegram or WeChat group, whatever its claim said.
 */
export async function playgroundConfined(tx: Pick<Repos, 'accounts'>, accountId: number, group: Pick<Group, 'platform'>): Promise<boolean> {
  if (group.platform === 'playground') return true;
  return (await tx.accounts.get(accountId))?.platform !== 'playground';
}
