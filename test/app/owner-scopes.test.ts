// Two owners, each of one group, and an operator: every owner command, stats figure, broadcast, refund and
// member action is limited to the caller's groups, and a refusal says why in one line and changes nothing.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { approveOrder, createClaimCode } from '../../src/app/owners.ts';
import { computeStats } from '../../src/app/stats.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth, type TestService } from '../helpers/service.ts';

const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : '')).join('\n');

/** A paid dev order in the group of `chatId`, its membership granted and the invite sent. */
async function paid(t: TestService, userId: string, chatId: string, price: string, currency: string) {
  const deps = t.service.deps;
  const s = await seedOrderDirect(deps, { userId, chatId, price, currency });
  await payDevDirect(deps, s.orderId);
  await t.service.worker.drain();
  const order = (await deps.store.orders.get(s.orderId))!;
  const m = (await deps.store.memberships.list({ accountId: order.accountId }))[0]!;
  return { ...s, membershipId: m.id, expiresAt: m.expiresAt };
}
type Paid = Awaited<ReturnType<typeof paid>>;

interface Scene {
  /** What a chat user says to the bot, and the bot's answer as one text. */
  say: (userId: string, text: string) => Promise<string>;
  /** Group 1 (room-1, ann paid 9.90 CNY), owned by owner-a. */
  one: Paid;
  /** Group 2 (room-2, ben paid 5.00 USD), owned by owner-b; `operator` owns every group. */
  two: Paid;
  /** Another paid member in a group of this service. */
  paidMember: (userId: string, chatId: string, price: string, currency: string) => Promise<Paid>;
}

describe.each(DIALECTS)('owners act on their own groups only (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: Scene }>({
    scene: async ({ t }, use) => {
      const deps: AppDeps = t.service.deps;
      const bot = createConversation(deps);
      const say = async (userId: string, text: string) => textOf(await bot.handle({ platform: 'playground', userId, text }));
      const one = await paid(t, 'ann', 'room-1', '9.90', 'CNY');
      const two = await paid(t, 'ben', 'room-2', '5.00', 'USD');
      const admin: Actor = { kind: 'admin', via: 'cli' };
      expect(await say('owner-a', (await createClaimCode(deps, admin, [one.groupId])).code)).toMatch(/You are now an owner/);
      expect(await say('owner-b', (await createClaimCode(deps, admin, [two.groupId])).code)).toMatch(/You are now an owner/);
      expect(await say('operator', (await createClaimCode(deps, admin)).code)).toMatch(/You are now an owner/);
      await t.service.worker.drain();
      await use({ say, one, two, paidMember: (...a) => paid(t, ...a) });
    },
  });

  const notMine = (groupId: number) => `That did not work: group ${groupId} is not one of your groups; ask the operator for a claim code that covers it`;

  it('the owner of group 1 cannot /refund, /extend, /remove, /ban, /unban, /broadcast, /members, /addplan or /disableplan in group 2; nothing changes', async ({
    deps,
    scene: { say, one, two },
  }) => {
    const jobsBefore = (await deps.store.jobs.list({})).length;
    const auditBefore = (await deps.store.audit.page({ limit: 1000 })).length;
    const refused = [
      `/refund ${two.orderId} not mine`,
      `/extend ${two.membershipId} 30`,
      `/remove ${two.membershipId}`,
      `/ban ${two.membershipId} spam`,
      `/unban ${two.membershipId}`,
      `/broadcast ${two.groupId} Free drinks`,
      `/members ${two.groupId}`,
      `/members ${two.groupId} soon`,
      `/addplan ${two.groupId} 1 USD 30 Cheap`,
      `/disableplan ${two.planId}`,
    ];
    for (const cmd of refused) expect(await say('owner-a', cmd), cmd).toBe(notMine(two.groupId));
    expect((await deps.store.orders.get(two.orderId))!.status).toBe('paid');
    expect(await deps.store.memberships.get(two.membershipId)).toMatchObject({ status: 'active', expiresAt: two.expiresAt });
    expect((await deps.store.plans.get(two.planId))!.active).toBe(true);
    expect((await deps.store.plans.list({ groupId: two.groupId })).length).toBe(1);
    expect((await deps.store.jobs.list({})).length).toBe(jobsBefore);
    expect((await deps.store.audit.page({ limit: 1000 })).length).toBe(auditBefore);
    // The other owner, the other way round.
    expect(await say('owner-b', `/refund ${one.orderId}`)).toBe(notMine(one.groupId));
    expect((await deps.store.orders.get(one.orderId))!.status).toBe('paid');
  });

  it('each owner sees only their own groups, members and figures; the operator and the admin see all', async ({ t, scene: { say, one, two } }) => {
    expect(await say('owner-a', '/groups')).toMatch(
      new RegExp(`^#${one.groupId} Group room-1 \\(playground\\): 1 with access; plans: #${one.planId} Monthly 9\\.90 CNY/30d$`),
    );
    expect(await say('owner-b', '/groups')).toMatch(new RegExp(`^#${two.groupId} Group room-2 `));
    expect(await say('owner-a', `/members ${one.groupId}`)).toMatch(/^#\d+ ann: active until /);
    expect(await say('owner-a', '/stats')).toBe('2026-01: 1 member with access, revenue 9.90 CNY, 0 renewals, 0 lapsed.');
    expect(await say('owner-b', '/stats')).toBe('2026-01: 1 member with access, revenue 5.00 USD, 0 renewals, 0 lapsed.');

    const groups = (await say('operator', '/groups')).split('\n');
    expect(groups).toHaveLength(2);
    expect(await say('operator', `/members ${two.groupId}`)).toMatch(/^#\d+ ben: active until /);
    expect(await say('operator', '/stats')).toBe('2026-01: 2 members with access, revenue 9.90 CNY, 5.00 USD, 0 renewals, 0 lapsed.');
    const api = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(api.activeMembers).toBe(2);
    expect(api.revenue.map((r: { currency: string }) => r.currency)).toEqual(['CNY', 'USD']);
    // A non-owner learns nothing: the unknown-command answer, not a reason.
    expect(await say('mallory', '/stats')).toBe(await say('mallory', '/frobnicate'));
  });

  it('owners act in their own groups and the operator in every group', async ({ deps, scene: { say, one, two } }) => {
    expect(await say('owner-a', `/extend ${one.membershipId} 3 loyal`)).toMatch(/now runs until/);
    expect(await say('owner-a', `/broadcast ${one.groupId} Hello readers`)).toBe('Broadcast queued for 1 member.');
    expect(await say('operator', `/extend ${two.membershipId} 3`)).toMatch(/now runs until/);
    expect(await say('operator', `/refund ${two.orderId} operator refund`)).toMatch(/Refund of order .* requested/);
    expect((await deps.store.orders.get(two.orderId))!.status).toBe('refund_pending');
  });

  it('an owner of another group who is a member here can be banned like any member; an owner of this group cannot', async ({
    deps,
    scene: { say, two, paidMember },
  }) => {
    await paidMember('owner-a', 'room-2', '5.00', 'USD');
    const a = (await deps.store.accounts.find('playground', 'owner-a'))!;
    const inTwo = (await deps.store.memberships.list({ accountId: a.id, groupId: two.groupId }))[0]!;
    expect(await say('owner-b', `/ban ${inTwo.id} spam`)).toBe(`Membership #${inTwo.id} banned.`);
    await paidMember('owner-b', 'room-2', '5.00', 'USD');
    const b = (await deps.store.accounts.find('playground', 'owner-b'))!;
    const own = (await deps.store.memberships.list({ accountId: b.id, groupId: two.groupId }))[0]!;
    expect(await say('operator', `/ban ${own.id}`)).toBe('That did not work: an owner cannot be banned');
    expect(await say('operator', `/remove ${own.id}`)).toBe('That did not work: an owner cannot be removed from a group this way');
  });

  it('a group an owner binds in chat is theirs: they act on it, the other scoped owner cannot', async ({ deps, scene: { say, one } }) => {
    const a = (await deps.store.accounts.find('playground', 'owner-a'))!;
    const b = (await deps.store.accounts.find('playground', 'owner-b'))!;
    // What the Telegram add-bot binding and WeChat /bind do for an owner.
    const bound = await addGroup(deps, { platform: 'playground', chatId: 'room-3', title: 'Bound by A', actor: { kind: 'account', accountId: a.id } });
    expect(await deps.store.ownerScopes.get(a.id)).toEqual({ all: false, groupIds: [one.groupId, bound.id] });
    expect(await say('owner-a', `/addplan ${bound.id} 3 CNY 7 Weekly`)).toMatch(/Plan #\d+ "Weekly" added/);
    expect(await say('owner-b', `/members ${bound.id}`)).toBe(notMine(bound.id));
    expect((await say('owner-a', '/groups')).split('\n')).toHaveLength(2);
    await expect(computeStats(deps, { kind: 'account', accountId: b.id })).resolves.toMatchObject({ activeMembers: 1 });
  });

  it("approving an order held for review in another owner's group is refused", async ({ t, deps, scene: _ownersClaimed }) => {
    const s = await seedOrderDirect(deps, { userId: 'cat', chatId: 'room-2', price: '5.00', currency: 'USD' });
    const order = (await deps.store.orders.get(s.orderId))!;
    const n = t.service.devProvider!.pay(order, { amount_minor: 400 });
    await t.service.app.inject({ method: 'POST', url: '/webhooks/dev', headers: n.headers, payload: n.body });
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('review');
    const a = (await deps.store.accounts.find('playground', 'owner-a'))!;
    await expect(approveOrder(deps, { actor: { kind: 'account', accountId: a.id }, orderId: s.orderId })).rejects.toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(/^group \d+ is not one of your groups/),
    });
    expect((await deps.store.orders.get(s.orderId))!.status).toBe('review');
  });

  it('claims for groups that do not exist are refused through the admin API; nothing is created', async ({ t, deps, scene: { one, two } }) => {
    const before = (await deps.store.audit.page({ action: 'owner.claim_create', limit: 100 })).length;
    const missing = await t.service.app.inject({ method: 'POST', url: '/api/owner-claims', headers: auth, payload: { groupIds: [one.groupId, 999] } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe('no group with id 999');
    expect((await t.service.app.inject({ method: 'POST', url: '/api/owner-claims', headers: auth, payload: { groupIds: [] } })).statusCode).toBe(400);
    expect((await t.service.app.inject({ method: 'POST', url: '/api/owner-claims', headers: auth, payload: { groupIds: ['x'] } })).statusCode).toBe(400);
    expect((await deps.store.audit.page({ action: 'owner.claim_create', limit: 100 })).length).toBe(before);
    const ok = await t.service.app.inject({ method: 'POST', url: '/api/owner-claims', headers: auth, payload: { groupIds: [two.groupId] } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().groupIds).toEqual([two.groupId]);
    expect((await t.service.app.inject({ method: 'POST', url: '/api/owner-claims', headers: auth })).json().groupIds).toBeNull();
  });
});
