// Signing in to the owner console (issue 15 part 1) without a password. An owner asks for a one-time
// link (the chat command /console, or `gatekeeper owner login-link`); the link's token is 256 random bits,
// valid 10 minutes, single-use, stored only as its SHA-256. Redeeming it opens a session whose token (the
// cookie) is again 256 random bits stored hashed; a session lasts CONSOLE_SESSION_DAYS (7) since it was
// last used, and ends with "Sign out" or `gatekeeper owner logout --all`. A session acts as its owner's
// account, so every use case checks that owner's scope as it does for the chat and the CLI (app/actors.ts);
// an operator link (no account) acts over every group as `admin:console`.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalid, notFound } from '../domain/errors.ts';
import { DAY_MS, MINUTE_MS } from '../domain/time.ts';
import { type Actor, actorLabel, notAllowed } from './actors.ts';
import type { AppDeps } from './deps.ts';

export const LOGIN_LINK_TTL_MS = 10 * MINUTE_MS;
export const DEFAULT_SESSION_DAYS = 7;
/** A session's last-use time is written at most this often (not on every page view). */
const TOUCH_EVERY_MS = MINUTE_MS;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newToken = () => randomBytes(32).toString('base64url');

/** Whom a session acts for: one owner account, or the operator (every group). */
export interface ConsoleSession {
  actor: Actor;
  /** null: the operator. */
  accountId: number | null;
  /** The token every state-changing request of this session must carry (a form field). */
  csrfToken: string;
}

/** The CSRF token of a session: derived from its secret token, so it needs no storage and reveals nothing of it. */
function csrfOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('console-csrf').digest('base64url');
}

export function checkCsrf(session: ConsoleSession, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== session.csrfToken.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(session.csrfToken));
}

/**
 * A one-time sign-in link's token. An admin (the CLI) issues one for an owner account (`forAccountId`) or
 * for the operator (null); an account (the chat command) only for itself, and only while it is an owner.
 */
export async function issueLoginLink(deps: AppDeps, actor: Actor, forAccountId: number | null): Promise<{ token: string; url: string; expiresAt: number }> {
  if (actor.kind === 'account' && actor.accountId !== forAccountId) throw notAllowed();
  const now = deps.clock.now();
  const token = newToken();
  const expiresAt = now + LOGIN_LINK_TTL_MS;
  await deps.store.transaction(async (tx) => {
    if (forAccountId !== null) {
      const account = Number.isSafeInteger(forAccountId) ? await tx.accounts.get(forAccountId) : null;
      if (!account) {
        if (actor.kind === 'account') throw notAllowed();
        throw notFound(`no account with id ${String(forAccountId)}`);
      }
      if (!account.isOwner) {
        if (actor.kind === 'account') throw notAllowed();
        throw invalid(`account ${account.id} is not an owner; it must redeem a claim code from "gatekeeper owner claim" first`);
      }
    }
    await tx.console.insertLink({ tokenHash: sha256(token), accountId: forAccountId, expiresAt }, now);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'console.link_issue',
      subjectType: forAccountId === null ? 'operator' : 'account',
      subjectId: forAccountId === null ? 'operator' : String(forAccountId),
      reason: 'one-time console sign-in link issued',
      detail: { expiresAt },
    });
  });
  return { token, url: loginUrl(deps.settings.publicUrl, token), expiresAt };
}

export const loginUrl = (publicUrl: string, token: string) => `${publicUrl.replace(/\/+$/, '')}/console/login?token=${token}`;

export type LoginRefusal = 'invalid' | 'used' | 'expired' | 'not_owner';
const REFUSALS: Record<LoginRefusal, string> = {
  invalid: 'this sign-in link is not valid; ask the bot for a new one with /console',
  used: 'this sign-in link was already used; ask the bot for a new one with /console',
  expired: 'this sign-in link has expired (links last 10 minutes); ask the bot for a new one with /console',
  not_owner: 'this account is no longer an owner',
};

/** Why a link did not sign anyone in: `reason` for the page to say it in the reader's language. */
export class LoginRefused extends Error {
  constructor(readonly reason: LoginRefusal) {
    super(REFUSALS[reason]);
  }
}

/** Takes the link (once) and opens a session; the returned token goes into the cookie. */
export async function redeemLoginLink(deps: AppDeps, token: string): Promise<{ sessionToken: string; session: ConsoleSession }> {
  const t = token.trim();
  if (!TOKEN.test(t)) throw new LoginRefused('invalid');
  const now = deps.clock.now();
  const hash = sha256(t);
  const sessionToken = newToken();
  const accountId = await deps.store.transaction(async (tx) => {
    const link = await tx.console.getLink(hash);
    if (!link) throw new LoginRefused('invalid');
    if (link.usedAt !== null) throw new LoginRefused('used');
    if (link.expiresAt <= now) throw new LoginRefused('expired');
    if (link.accountId !== null && !(await tx.accounts.get(link.accountId))?.isOwner) throw new LoginRefused('not_owner');
    if (!(await tx.console.useLink(hash, now))) throw new LoginRefused('used');
    await tx.console.insertSession({ tokenHash: sha256(sessionToken), accountId: link.accountId }, now);
    await tx.audit.insert({
      at: now,
      actor: link.accountId === null ? 'admin:console' : `account:${link.accountId}`,
      action: 'console.sign_in',
      subjectType: link.accountId === null ? 'operator' : 'account',
      subjectId: link.accountId === null ? 'operator' : String(link.accountId),
      reason: 'signed in to the console with a one-time link',
      detail: null,
    });
    return link.accountId;
  });
  return { sessionToken, session: sessionOf(accountId, sessionToken) };
}

function sessionOf(accountId: number | null, sessionToken: string): ConsoleSession {
  return {
    actor: accountId === null ? { kind: 'admin', via: 'console' } : { kind: 'account', accountId },
    accountId,
    csrfToken: csrfOf(sessionToken),
  };
}

/**
 * The session a cookie names, or null when it is unknown, ended, idle past CONSOLE_SESSION_DAYS, or its
 * owner is no longer an owner. Using it keeps it alive (its last use is recorded at most once a minute).
 */
export async function sessionFromToken(deps: AppDeps, token: string | undefined): Promise<ConsoleSession | null> {
  if (token === undefined || !TOKEN.test(token)) return null;
  const hash = sha256(token);
  const row = await deps.store.console.getSession(hash);
  if (!row || row.endedAt !== null) return null;
  const now = deps.clock.now();
  const idleMs = (deps.settings.consoleSessionDays ?? DEFAULT_SESSION_DAYS) * DAY_MS;
  if (now - row.lastSeenAt >= idleMs) {
    await deps.store.console.endSession(hash, now);
    return null;
  }
  if (row.accountId !== null && !(await deps.store.accounts.get(row.accountId))?.isOwner) return null;
  if (now - row.lastSeenAt >= TOUCH_EVERY_MS) await deps.store.console.touchSession(hash, now);
  return sessionOf(row.accountId, token);
}

/** "Sign out": this session ends (its cookie is worthless from now on). */
export async function signOut(deps: AppDeps, token: string): Promise<void> {
  if (!TOKEN.test(token)) return;
  const now = deps.clock.now();
  const hash = sha256(token);
  const row = await deps.store.console.getSession(hash);
  if (!row) return;
  await deps.store.transaction(async (tx) => {
    if (!(await tx.console.endSession(hash, now))) return;
    await tx.audit.insert({
      at: now,
      actor: row.accountId === null ? 'admin:console' : `account:${row.accountId}`,
      action: 'console.sign_out',
      subjectType: row.accountId === null ? 'operator' : 'account',
      subjectId: row.accountId === null ? 'operator' : String(row.accountId),
      reason: 'signed out of the console',
      detail: null,
    });
  });
}

/** `gatekeeper owner logout --all [--owner <id>]`: ends every console session (or one owner's); returns how many. */
export async function endAllSessions(deps: AppDeps, actor: Actor, accountId?: number): Promise<number> {
  if (actor.kind !== 'admin') throw notAllowed();
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const n = await tx.console.endSessions({ accountId }, now);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'console.logout_all',
      subjectType: accountId === undefined ? 'operator' : 'account',
      subjectId: accountId === undefined ? 'all' : String(accountId),
      reason: accountId === undefined ? 'ended every console session' : `ended the console sessions of account ${accountId}`,
      detail: { ended: n },
    });
    return n;
  });
}

/** A confirmation page's one-time key: 128 random bits. */
export const newPressKey = () => randomBytes(16).toString('base64url');
const PRESS_KEY = /^[A-Za-z0-9_-]{22}$/;
/** Keys are remembered this long: a press of a day-old confirmation page is carried out as a new one. */
const PRESS_MEMORY_MS = DAY_MS;

/**
 * Carries out a confirmed console action once per confirmation page: the page's key is recorded first (per
 * session, hashed), and a second press with the same key — a double click, a second tab, a retry after a lost
 * answer — returns `{ pressed: 'again' }` without acting. An action that fails forgets its key, so the owner can
 * press again. Guards actions that are not idempotent by themselves (extend adds days each time, a broadcast
 * sends each time); a refund has its own once-only rule (app/refunds.ts).
 */
export async function pressOnce<T>(
  deps: AppDeps,
  session: ConsoleSession,
  key: unknown,
  act: () => Promise<T>,
): Promise<{ pressed: 'first'; result: T } | { pressed: 'again' }> {
  if (typeof key !== 'string' || !PRESS_KEY.test(key)) throw invalid('this confirmation is out of date: open the page again and confirm there');
  const hash = sha256(`${session.csrfToken}:${key}`);
  const now = deps.clock.now();
  if (!(await deps.store.console.press(hash, now, now - PRESS_MEMORY_MS))) return { pressed: 'again' };
  try {
    return { pressed: 'first', result: await act() };
  } catch (err) {
    await deps.store.console.unpress(hash);
    throw err;
  }
}
