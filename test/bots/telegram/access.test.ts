// Access on Telegram against the Bot API emulator (issue 13, parts 3 and 5): a removal re-checks the
// membership right before each call, so a renewal that lands while the calls wait is never kicked (or is
// let back in); and an outage of hours loses no invite and no removal.
import { afterEach, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { buttonUrl, type Harness, startTelegram } from './harness.ts';

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Real time, with virtual time moving in small steps (the limiter spaces calls on it) even while a call is held open. */
async function realUntil(cond: () => boolean | Promise<boolean>, what: string, clock?: { advanceWhileHeld(ms: number): Promise<void> }): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    await realSleep(5);
    await clock?.advanceWhileHeld(10);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe.each(DIALECTS)('Telegram access (%s)', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a 2-hour Bot API outage: afterwards the paid member is let in and the lapsed one removed, nothing dead-lettered', async () => {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id);
    const bob = emu.addUser('Bob', { language_code: 'en' });
    await h.buyAndJoin(bob, chatId);
    const bobAccount = (await store.accounts.find('telegram', String(bob.id)))!;
    const [bobM] = await store.memberships.list({ accountId: bobAccount.id });
    // Half an hour before Bob's grace ends, Alice pays, and at that moment Telegram goes down for 2 hours.
    h.clock.set(bobM!.expiresAt + 24 * HOUR_MS - 30 * 60_000);
    await h.tick();
    const alice = emu.addUser('Alice', { language_code: 'en' });
    const before = emu.messagesTo(alice.id).length;
    await h.buyWithDev(alice, '/start', /^Monthly/, () => emu.inject({ kind: '5xx', status: 502, times: 1_000_000 }));
    const outageEnds = h.clock.now() + 2 * HOUR_MS;
    while (h.clock.now() < outageEnds) {
      await h.tick();
      await h.run(60_000, 10_000);
    }
    expect((await store.memberships.get(bobM!.id))!.status).toBe('expired');
    expect(emu.isMember(chatId, bob.id)).toBe(true);
    // Still being retried (queued, or an attempt on the wire), far past the old 8 attempts.
    const waiting = (j: { status: string }) => j.status === 'queued' || j.status === 'running';
    expect((await store.jobs.list({ kind: 'remove' })).every(waiting)).toBe(true);
    const invites = (await store.jobs.list({ kind: 'invite' })).filter((j) => j.status !== 'done');
    expect(invites.length).toBeGreaterThan(0);
    expect(invites.every((j) => waiting(j) && j.attempts > 8)).toBe(true);
    emu.clearFaults();
    const link = await h.inviteLink(alice, before);
    expect(emu.joinViaLink(alice, link)).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');
    await h.until(() => !emu.isMember(chatId, bob.id), 'bob out', { stepMs: 5_000 });
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
  }, 120_000);

  /** Alice paid, joined, and her paid time and grace are over; the removal job is queued with `held` holding its first matching call open. */
  async function lapsedAlice(heldMethod: string) {
    h = await startTelegram(dialect);
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    const planId = await h.plan(group.id);
    const alice = emu.addUser('Alice', { language_code: 'en' });
    await h.buyAndJoin(alice, chatId);
    // The join's own jobs finish first: otherwise the hold below can catch their getChatMember (a job still
    // running when the clock jumps a month is reclaimed and runs again) instead of the removal's.
    await h.until(async () => (await store.jobs.list({})).every((j) => j.status === 'done'), "the join's jobs done");
    const account = (await store.accounts.find('telegram', String(alice.id)))!;
    const [m] = await store.memberships.list({ accountId: account.id });
    let release!: () => void;
    emu.inject({ method: heldMethod, kind: 'hold', until: new Promise<void>((r) => (release = r)) });
    h.clock.set(m!.expiresAt + 25 * HOUR_MS);
    await h.tick();
    await h.tick();
    expect((await store.memberships.get(m!.id))!.status).toBe('expired');
    await realUntil(() => emu.calls.some((c) => c.method === heldMethod && c.injected), `the removal's ${heldMethod} on the wire`, h.clock);
    return { emu, store, chatId, alice, membershipId: m!.id, planId, release };
  }

  it('a renewal that lands while the removal waits on Telegram is not kicked', async () => {
    const { emu, store, chatId, alice, membershipId, planId, release } = await lapsedAlice('getChatMember');
    await h!.payByApi(alice.id, planId); // a renewal, without moving the clock (a call is held open)
    expect((await store.memberships.get(membershipId))!.status).toBe('active');
    release();
    await h!.until(async () => (await store.jobs.list({ kind: 'remove' })).every((j) => j.status === 'done'), 'the removal job finished');
    await h!.run(5_000);
    expect(emu.isMember(chatId, alice.id)).toBe(true);
    expect(emu.calls.filter((c) => c.method === 'banChatMember')).toEqual([]);
    expect(h!.texts(alice.id).some((x) => x.includes('you have been removed'))).toBe(false);
    expect(
      (await store.audit.list({ subjectType: 'membership', subjectId: String(membershipId) })).some((a) => a.action === 'membership.removal_cancelled'),
    ).toBe(true);
    expect(await store.jobs.list({ status: 'dead' })).toEqual([]);
  });

  it('a renewal that lands while the ban is on the wire is let back in: unbanned and invited again', async () => {
    const { emu, store, chatId, alice, membershipId, planId, release } = await lapsedAlice('banChatMember');
    const before = emu.messagesTo(alice.id).length;
    await h!.payByApi(alice.id, planId); // a renewal, without moving the clock (a call is held open)
    // The renewal's own invite finds her still in the group (the ban has not gone through yet): nothing sent.
    h!.t.service.worker.notify();
    await realUntil(async () => (await store.jobs.list({ kind: 'invite' })).every((j) => j.status === 'done'), "the renewal's invite job done", h!.clock);
    expect(
      emu
        .messagesTo(alice.id)
        .slice(before)
        .filter((m) => buttonUrl(m)?.startsWith('https://t.me/+')),
    ).toEqual([]);
    release();
    await h!.until(async () => (await store.jobs.list({ kind: 'remove' })).every((j) => j.status === 'done'), 'the removal job finished');
    // Out for a moment, but not banned, and a fresh join link is on its way.
    expect(emu.status(chatId, alice.id)).not.toBe('kicked');
    const link = await h!.inviteLink(alice, before);
    expect(emu.joinViaLink(alice, link)).toBe('requested');
    await h!.until(() => emu.isMember(chatId, alice.id), 'alice back in');
    expect((await store.memberships.get(membershipId))!.status).toBe('active');
    expect(h!.texts(alice.id).some((x) => x.includes('you have been removed'))).toBe(false);
    expect(
      emu
        .messagesTo(alice.id)
        .slice(before)
        .filter((m) => buttonUrl(m)?.startsWith('https://t.me/+')).length,
    ).toBeGreaterThanOrEqual(1);
  });
});
