// Issue 14 parts 2 and 3 against the Bot API emulator, through the real path (scheduler → jobs → worker pool →
// limiter → Bot API client → emulator): a payer never waits behind removals, only messages count toward the
// message windows, and bad weather loses nothing. Two kinds of bad input:
//   - a 429 storm with retry_after up to 60 s while a launch burst (payments and a batch of removals) goes out;
//   - a platform that answers 5xx for 10 minutes.
// Every limiter request is recorded (lane, window, chat; when it was asked for and when it was granted, in
// virtual time) so "no lower lane went while a higher one waited" is checked call by call.
import { afterEach, describe, expect, it } from 'vitest';
import { MESSAGE_METHODS } from '../../../bots/telegram/bot-api-client.ts';
import { LANES, type Lane } from '../../../src/app/ports.ts';
import { HOUR_MS } from '../../../src/domain/time.ts';
import type { User } from '../../fakes/telegram-emulator.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { buttonUrl, type Harness, startTelegram } from './harness.ts';

interface Grant {
  lane: Lane;
  kind: 'message' | 'call';
  chatId: string | undefined;
  /** Asked for, granted (virtual ms). */
  t0: number;
  t1: number;
}

/** Records every limiter request of the service. */
function recordGrants(h: Harness): Grant[] {
  const grants: Grant[] = [];
  const limiter = h.t.service.limiter;
  const acquire = limiter.acquire.bind(limiter);
  limiter.acquire = (req) => {
    const g: Grant = { lane: req.lane, kind: req.kind ?? 'message', chatId: req.chatId, t0: h.clock.now(), t1: Number.NaN };
    grants.push(g);
    return acquire(req).then(() => {
      g.t1 = h.clock.now();
    });
  };
  return grants;
}

/**
 * Lower-lane grants made while a higher-lane request for the same window (messages, or calls that post
 * nothing) was waiting. A message that waits for its own chat's 1 msg/s window is not held back by a lane
 * (a message to another chat may rightly pass it), so such waits are left out.
 */
function inversions(grants: Grant[], marginMs = 50): string[] {
  const sentToChat = new Map<string, number[]>();
  for (const g of grants)
    if (g.chatId !== undefined && Number.isFinite(g.t1)) (sentToChat.get(g.chatId) ?? sentToChat.set(g.chatId, []).get(g.chatId)!).push(g.t1);
  const out: string[] = [];
  for (const g of grants) {
    if (!Number.isFinite(g.t1)) continue;
    for (const w of grants) {
      if (LANES[w.lane] >= LANES[g.lane] || w.kind !== g.kind) continue;
      const waiting = w.t0 < g.t1 && !(w.t1 <= g.t1);
      if (!waiting) continue;
      const chatBusy = w.chatId !== undefined && (sentToChat.get(w.chatId) ?? []).some((t) => t <= g.t1 && t > g.t1 - 1000 - marginMs);
      if (chatBusy) continue;
      out.push(`${g.lane} ${g.kind} granted at ${g.t1} while a ${w.lane} ${w.kind} waited since ${w.t0}`);
    }
  }
  return out;
}

/** The most accepted calls of one kind (messages or not) in any 1000 ms, by the emulator's own records. */
function busiestSecond(h: Harness, messages: boolean): number {
  const at = h.emu.calls
    .filter((c) => c.method !== 'getUpdates' && !c.injected && c.status === 200 && MESSAGE_METHODS.has(c.method) === messages)
    .map((c) => c.at)
    .sort((a, b) => a - b);
  let best = 0;
  for (let hi = 0, lo = 0; hi < at.length; hi++) {
    while (at[hi]! - at[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe.each(DIALECTS)('Telegram lanes and windows under bad weather (%s)', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** A bound group with a plan, `lapsed` members whose paid time and grace are over (not yet swept), and `payers` who started the bot. */
  async function launch(lapsed: number, payers: number) {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    const planId = await h.plan(group.id);
    const members: User[] = Array.from({ length: lapsed }, (_, i) => emu.addUser(`Member${i}`, { language_code: 'en' }));
    emu.seedMembers(chatId, members);
    const now = h.clock.now();
    await store.transaction(async (tx) => {
      for (const u of members) {
        const a = await tx.accounts.upsert({ platform: 'telegram', platformUserId: String(u.id), displayName: u.first_name, locale: 'en' }, now);
        await tx.memberships.insert({ accountId: a.id, groupId: group.id, status: 'active', expiresAt: now + HOUR_MS }, now);
      }
    });
    const buyers: User[] = Array.from({ length: payers }, (_, i) => emu.addUser(`Payer${i}`, { language_code: 'en' }));
    emu.markStarted(buyers);
    const grants = recordGrants(h);
    // Past everyone's grace: the next sweep queues the removals.
    h.clock.set(now + HOUR_MS + 25 * HOUR_MS);
    return { h, emu, store, chatId, planId, members, buyers, grants };
  }

  /** Every invite and removal done exactly once: one join link per payer, each lapsed member out (not banned) and told once. */
  async function nothingLost(x: Awaited<ReturnType<typeof launch>>) {
    const { emu, store, chatId, members, buyers } = x;
    await x.h.until(
      async () => {
        const jobs = await store.jobs.list({});
        return jobs.every((j) => j.status === 'done' || j.status === 'dead') && members.every((u) => x.h.texts(u.id).some((t) => t.includes('has ended')));
      },
      'every job finished and every lapsed member told',
      { stepMs: 1000, maxSteps: 3000 },
    );
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
    expect(await store.jobs.list({ kind: 'invite', status: 'done' })).toHaveLength(buyers.length);
    expect(await store.jobs.list({ kind: 'remove', status: 'done' })).toHaveLength(members.length);
    for (const u of buyers) {
      const links = emu.messagesTo(u.id).filter((m) => buttonUrl(m)?.startsWith('https://t.me/+'));
      expect(links, u.first_name).toHaveLength(1);
    }
    expect(members.filter((u) => emu.status(chatId, u.id) !== 'left')).toEqual([]);
    for (const u of members)
      expect(
        x.h.texts(u.id).filter((t) => t.includes('has ended')),
        u.first_name,
      ).toHaveLength(1);
  }

  it('a 429 storm with retry_after up to 60 s during a launch burst: nothing lost, no call above the limits, invites first when it clears', async () => {
    const x = await launch(60, 20);
    const { emu, planId, buyers, grants } = x;
    await x.h.tick();
    await x.h.tick();
    // The removal batch is under way when the storm starts: every 4th call answered 429 retry_after 5 s, and
    // then calls answered 429 retry_after 60 s, 20 s and 60 s again.
    await x.h.run(1000, 100);
    expect(grants.some((g) => g.lane === 'removal' && Number.isFinite(g.t1))).toBe(true);
    emu.inject({ kind: '429', retryAfter: 5, every: 4, times: 8 });
    emu.inject({ kind: '429', retryAfter: 60, every: 9, times: 1 });
    emu.inject({ kind: '429', retryAfter: 20, every: 5, times: 2 });
    emu.inject({ kind: '429', retryAfter: 60, every: 7, times: 1 });
    const storm = (after = 0) => emu.calls.filter((c) => c.injected && c.status === 429 && c.at >= after);
    await x.h.until(() => storm().some((c) => c.description?.includes('retry after 60')), 'a 429 asking for 60 s', { stepMs: 500, maxSteps: 4000 });
    const sixty = storm().find((c) => c.description?.includes('retry after 60'))!;
    // The payments land while Telegram has asked for 60 s of silence.
    for (const u of buyers) await h!.payByApi(u.id, planId, { displayName: u.first_name, locale: 'en' });
    const clears = sixty.at + 60_000;
    expect(x.h.clock.now()).toBeLessThan(clears);

    await nothingLost(x);
    expect(storm().length).toBe(12);
    // Nothing above the limits: the emulator refused nothing, and by its own records no second held more than
    // 30 messages or 30 other calls.
    expect(emu.violations).toEqual([]);
    expect(busiestSecond(x.h, true)).toBeLessThanOrEqual(30);
    expect(busiestSecond(x.h, false)).toBeLessThanOrEqual(30);
    // Nobody called Telegram inside a retry_after it asked for.
    for (const c of storm()) {
      const seconds = Number(/retry after (\d+)/.exec(c.description ?? '')![1]);
      const inside = emu.calls.filter((d) => d.method !== 'getUpdates' && d.at > c.at && d.at < c.at + seconds * 1000);
      expect(
        inside.map((d) => `${d.method}@${d.at - c.at}`),
        `within ${seconds} s of a 429`,
      ).toEqual([]);
    }
    // No lower lane ahead of a higher one, all along.
    expect(inversions(grants)).toEqual([]);
    // When the 60 s pause the payments waited through clears, the invites go first: every invite request
    // waiting then is granted before any removal request.
    const waitingAtClear = grants.filter((g) => g.t0 < clears && g.t1 >= clears);
    expect(waitingAtClear.some((g) => g.lane === 'invite')).toBe(true);
    const lastInvite = Math.max(...waitingAtClear.filter((g) => g.lane === 'invite').map((g) => g.t1));
    const firstRemoval = Math.min(...grants.filter((g) => g.lane === 'removal' && g.t1 >= clears).map((g) => g.t1));
    expect(lastInvite).toBeLessThanOrEqual(firstRemoval);
    expect(grants.filter((g) => g.t1 >= clears).sort((a, b) => a.t1 - b.t1)[0]!.lane).toBe('invite');
  }, 180_000);

  it('a platform that answers 5xx for 10 minutes: nothing lost and no lane inversion', async () => {
    const x = await launch(40, 15);
    const { emu, planId, buyers, grants } = x;
    await x.h.tick();
    await x.h.tick();
    await x.h.run(500, 100);
    emu.inject({ kind: '5xx', status: 502, times: 1_000_000 });
    for (const u of buyers.slice(0, 10)) await h!.payByApi(u.id, planId, { displayName: u.first_name, locale: 'en' });
    const outageEnds = x.h.clock.now() + 10 * 60_000;
    let paidLate = false;
    while (x.h.clock.now() < outageEnds) {
      await x.h.tick();
      await x.h.run(60_000, 5_000);
      // More payers in the middle of it.
      if (!paidLate && x.h.clock.now() > outageEnds - 5 * 60_000) {
        for (const u of buyers.slice(10)) await h!.payByApi(u.id, planId, { displayName: u.first_name, locale: 'en' });
        paidLate = true;
      }
    }
    const failed = emu.calls.filter((c) => c.status === 502);
    expect(failed.length).toBeGreaterThan(50);
    expect(await x.store.jobs.list({ status: 'dead' })).toEqual([]);
    emu.clearFaults();

    await nothingLost(x);
    expect(emu.violations).toEqual([]);
    expect(busiestSecond(x.h, true)).toBeLessThanOrEqual(30);
    expect(busiestSecond(x.h, false)).toBeLessThanOrEqual(30);
    expect(inversions(grants)).toEqual([]);
  }, 180_000);
});
