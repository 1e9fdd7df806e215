// The owner's daily digest (issue 16 part 5). From DIGEST_HOUR (default 9) in TZ_DISPLAY, each owner with the
// digest on (`/digest off|on`, stored on the account) gets one message about yesterday in their groups (an
// operator: every group): revenue per currency, new members, renewals, lapsed, the review queue and (operators
// only: a job is not tied to one owner's groups) the dead letters waiting. A day with nothing to say sends
// nothing.
//   - The numbers come from the functions behind GET /api/stats and /metrics (periodFigures in stats.ts,
//     store.review.counts, store.jobs.countByStatus): one definition each.
//   - The message is a list of lines (DIGEST_LINES); a new line is one more entry there.
//   - Once per owner per day, with several instances and every tick: the sweep looks only at owners without
//     an owner_digests row for the day, and the conditional insert of that row decides who sends (the
//     notice's dedupe key `digest:<owner>:<day>` guards the job too). A tick that comes late (the service was
//     down at DIGEST_HOUR) still sends that day's digest; the next day starts afresh.
import { formatMoney } from '../domain/money.ts';
import { zonedDay } from '../domain/time.ts';
import { type Actor, assertOwner, actorLabel, groupScope, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { notifyJob } from './job-kinds.ts';
import type { MessageRef } from './ports.ts';
import { badgeFigures, type GrowthFigures, growthFigures, type PeriodFigures, periodFigures } from './stats.ts';

export const DEFAULT_DIGEST_HOUR = 9;

/** Yesterday's figures for one owner's groups. */
export interface DigestFigures extends PeriodFigures, Pick<GrowthFigures, 'trialsStarted' | 'couponsRedeemed'> {
  /** The review queue now (orders held for review + join-review applications pending), as the console's badge. */
  reviewQueue: number;
  /** Jobs given up on (dead letters) now; null for an owner who is not an operator. */
  deadLetters: number | null;
}

/** One line of the digest: its catalogue key and parameters, or null when it has nothing to say. */
interface DigestLine {
  line(f: DigestFigures): MessageRef | null;
}

const count = (key: string, n: number | null): MessageRef | null => (n ? { key, params: { count: n } } : null);

/** The digest's lines, in order. */
export const DIGEST_LINES: readonly DigestLine[] = [
  {
    line: (f) => {
      const moved = f.revenue.filter((r) => r.chargesMinor !== 0 || r.refundsMinor !== 0);
      return moved.length === 0 ? null : { key: 'digest.revenue', params: { revenue: moved.map((r) => formatMoney(r.netMinor, r.currency)).join(', ') } };
    },
  },
  { line: (f) => count('digest.new_members', f.newMembers) },
  { line: (f) => count('digest.renewals', f.renewals) },
  { line: (f) => count('digest.lapsed', f.churn) },
  { line: (f) => count('digest.trials_started', f.trialsStarted) },
  { line: (f) => count('digest.coupons_redeemed', f.couponsRedeemed) },
  { line: (f) => count('digest.review_queue', f.reviewQueue) },
  { line: (f) => count('digest.dead_letters', f.deadLetters) },
];

export const digestLines = (f: DigestFigures): MessageRef[] => DIGEST_LINES.map((l) => l.line(f)).filter((m): m is MessageRef => m !== null);

/** The figures of the actor's groups over [from, to), from the same functions as GET /api/stats and /metrics. */
export async function digestFigures(deps: AppDeps, actor: Actor, from: number, to: number): Promise<DigestFigures | null> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && (!scope.owner || scope.groupIds.size === 0)) return null;
  const groups = scopeFilter(scope);
  const [figures, growth, badges] = await Promise.all([
    periodFigures(deps.store, from, to, groups),
    growthFigures(deps.store, from, to, groups),
    badgeFigures(deps, actor),
  ]);
  return { ...figures, trialsStarted: growth.trialsStarted, couponsRedeemed: growth.couponsRedeemed, ...badges };
}

/** The scheduler's sweep: each owner's digest for yesterday, once per owner per day, from DIGEST_HOUR on. */
export async function sweepDigest(deps: AppDeps): Promise<{ sent: number; quiet: number } | { notYet: string }> {
  const { store, clock, settings, messages } = deps;
  const now = clock.now();
  const today = zonedDay(now, settings.tzDisplay);
  const hour = settings.digestHour ?? DEFAULT_DIGEST_HOUR;
  if (today.hour < hour) return { notYet: today.label };
  const yesterday = zonedDay(today.start - 1, settings.tzDisplay);
  let sent = 0;
  let quiet = 0;
  for (const owner of await store.digests.due(yesterday.label)) {
    const figures = await digestFigures(deps, { kind: 'account', accountId: owner.id }, yesterday.start, yesterday.end);
    const lines = figures ? digestLines(figures) : [];
    const locale = owner.locale ?? settings.defaultLocale;
    const text = [
      messages.render(locale, { key: 'digest.heading', params: { day: yesterday.label } }),
      ...lines.map((l) => `• ${messages.render(locale, l)}`),
    ].join('\n');
    const took = await store.transaction(async (tx) => {
      if (!(await tx.digests.mark(owner.id, yesterday.label, lines.length > 0, now))) return false;
      if (lines.length > 0)
        await tx.jobs.enqueue(
          [notifyJob({ accountId: owner.id, message: { key: 'digest.body', params: { text } } }, `digest:${owner.id}:${yesterday.label}`)],
          now,
        );
      return true;
    });
    if (!took) continue;
    if (lines.length > 0) sent++;
    else quiet++;
  }
  if (sent > 0) deps.onJobsEnqueued?.();
  return { sent, quiet };
}

/** `/digest on|off`: an owner's own digest, persisted on their account and audited. */
export async function setDigest(deps: AppDeps, actor: Actor, on: boolean): Promise<void> {
  if (actor.kind !== 'account') return;
  await assertOwner(deps.store, actor);
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    await tx.digests.setOff(actor.accountId, !on);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'owner.digest',
      subjectType: 'account',
      subjectId: String(actor.accountId),
      reason: `daily digest ${on ? 'on' : 'off'}`,
      detail: { on },
    });
  });
}
