// Owner claim codes and actions, refunds (whole, partial, stacked, refused) and the admin lists. Each
// test gets its own service from the fixture; orders are seeded through the use cases, and the admin
// API is called only where the test is about it.
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import type { Order } from '../../src/app/model.ts';
import { banMember, createClaimCode, extendMembership, redeemClaimCode, removeMember } from '../../src/app/owners.ts';
import type { PaymentProvider } from '../../src/app/ports.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DEV_SIGNATURE_HEADER } from '../../src/payments/dev/dev-provider.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'api' };

interface PaidMember {
  groupId: number;
  planId: number;
  orderId: string;
  order: Order;
  membershipId: number;
  accountId: number;
}

interface Helpers {
  /** The admin API, for the tests about it. */
  inject: (o: InjectOptions) => Promise<LightMyRequestResponse>;
  /** A member with access: a dev order seeded and paid through the use cases, its invite sent. */
  paidMember: (userId: string, days?: number) => Promise<PaidMember>;
  /** Another paid order of the same plan for the same user; its order id. */
  buy: (userId: string, planId: number) => Promise<string>;
  /** Removal jobs a refund queued. */
  refundJobs: () => Promise<unknown[]>;
  /** A signed dev `refund.succeeded` notification, as a provider would send it for a refund made in its dashboard. */
  devRefund: (outTradeNo: string, refundId: string, amountMinor: number, eventId?: string) => Promise<LightMyRequestResponse>;
  /** The message keys of the owner alerts queued so far. */
  alertKeys: () => Promise<string[]>;
  /** The payments ledger of one order. */
  ledgerOf: (orderId: string) => Promise<Array<{ kind: string; provider_txn_id: string | null; amount_minor: number }>>;
}

describe.each(DIALECTS)('owners and refunds (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<Helpers>({
    inject: async ({ t }, use) => use((o) => t.service.app.inject(o)),
    paidMember: async ({ t }, use) =>
      use(async (userId, days = 30) => {
        const s = await seedOrderDirect(t.service.deps, { userId, days });
        await payDevDirect(t.service.deps, s.orderId);
        await t.service.worker.drain();
        const order = (await t.service.deps.store.orders.get(s.orderId))!;
        const m = (await t.service.deps.store.memberships.list({ accountId: order.accountId }))[0]!;
        return { ...s, order, membershipId: m.id, accountId: order.accountId };
      }),
    buy: async ({ t }, use) =>
      use(async (userId, planId) => {
        const { orderId } = await seedOrderDirect(t.service.deps, { userId, planId });
        expect((await payDevDirect(t.service.deps, orderId)).status).toBe('paid');
        await t.service.worker.drain();
        return orderId;
      }),
    refundJobs: async ({ t }, use) =>
      use(async () => (await t.service.deps.store.jobs.list({ kind: 'remove' })).filter((j) => (j.payload as { reason: string }).reason === 'revoked')),
    devRefund: async ({ t }, use) =>
      use(async (outTradeNo, refundId, amountMinor, eventId = `evt_${refundId}_${amountMinor}`) => {
        const body = JSON.stringify({
          id: eventId,
          type: 'refund.succeeded',
          created: t.clock.now(),
          data: { out_trade_no: outTradeNo, refund_id: refundId, amount_minor: amountMinor, currency: 'CNY' },
        });
        return t.service.app.inject({
          method: 'POST',
          url: '/webhooks/dev',
          headers: { 'content-type': 'application/json', [DEV_SIGNATURE_HEADER]: t.service.devProvider!.sign(body) },
          payload: body,
        });
      }),
    alertKeys: async ({ t }, use) =>
      use(async () => (await t.service.deps.store.jobs.list({ kind: 'alert_owners' })).map((j) => (j.payload as { message: { key: string } }).message.key)),
    ledgerOf: async ({ t }, use) =>
      use((orderId) =>
        t.db.opened.db.selectFrom('payments').select(['kind', 'provider_txn_id', 'amount_minor']).where('order_id', '=', orderId).orderBy('id').execute(),
      ),
  });

  describe('claim codes', () => {
    it('makes the redeeming account an owner, once', async ({ t }) => {
      const { code } = await createClaimCode(t.service.deps, admin);
      expect(code).toMatch(/^claim-[0-9a-f]{32}$/);
      const owner = await redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'boss', code: `  ${code.toUpperCase()} ` });
      expect(owner.isOwner).toBe(true);
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'thief', code })).rejects.toMatchObject({
        code: 'conflict',
        message: expect.stringMatching(/already used/),
      });
      expect((await t.service.deps.store.accounts.find('playground', 'thief'))?.isOwner ?? false).toBe(false);
    });

    it('refuses expired and mistyped codes', async ({ t }) => {
      const { code } = await createClaimCode(t.service.deps, admin);
      await t.clock.advance(24 * HOUR_MS + 1);
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'late', code })).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(/expired/),
      });
      const fresh = await createClaimCode(t.service.deps, admin);
      const typo = fresh.code.slice(0, -1) + (fresh.code.endsWith('0') ? '1' : '0');
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'x', code: typo })).rejects.toMatchObject({
        message: expect.stringMatching(/unknown claim code/),
      });
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'x', code: 'hello' })).rejects.toMatchObject({ code: 'invalid_input' });
      expect((await t.service.deps.store.accounts.listOwners()).length).toBe(0);
    });
  });

  describe('owner actions', () => {
    it('an owner action by a non-owner is refused and changes nothing', async ({ t, paidMember }) => {
      const m = await paidMember('victim');
      const stranger = await t.service.deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'stranger' }, t.clock.now());
      const actor: Actor = { kind: 'account', accountId: stranger.id };
      await expect(removeMember(t.service.deps, { actor, membershipId: m.membershipId })).rejects.toMatchObject({ code: 'forbidden' });
      await expect(extendMembership(t.service.deps, { actor, membershipId: m.membershipId, days: 5 })).rejects.toMatchObject({ code: 'forbidden' });
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
      // Once the stranger redeems a code they may act.
      const { code } = await createClaimCode(t.service.deps, admin);
      await redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'stranger', code });
      await extendMembership(t.service.deps, { actor, membershipId: m.membershipId, days: 5, reason: 'loyal' });
      const audit = await t.service.deps.store.audit.list({ subjectType: 'membership', subjectId: String(m.membershipId) });
      expect(audit.at(-1)).toMatchObject({ actor: `account:${stranger.id}`, action: 'membership.extend_by_owner', reason: 'loyal' });
    });

    it('extends, removes, bans and unbans through the admin API with an audit line each', async ({ t, inject, paidMember }) => {
      const m = await paidMember('bob');
      const before = (await t.service.deps.store.memberships.get(m.membershipId))!.expiresAt;
      const ext = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days: 7, reason: 'apology' } });
      expect(ext.statusCode).toBe(200);
      expect(Date.parse(ext.json().expiresAt)).toBe(before + 7 * DAY_MS);
      expect((await inject({ method: 'POST', url: `/api/members/${m.membershipId}/ban`, headers: auth, payload: { reason: 'spam' } })).json().status).toBe(
        'banned',
      );
      await t.service.worker.drain();
      expect(t.gateway.of('remove').at(-1)).toMatchObject({ userId: 'bob', ban: true });
      const again = await inject({
        method: 'POST',
        url: '/api/checkouts',
        headers: auth,
        payload: { platform: 'playground', userId: 'bob', planId: m.planId, provider: 'dev' },
      });
      expect(again.statusCode).toBe(403);
      expect((await inject({ method: 'POST', url: `/api/members/${m.membershipId}/unban`, headers: auth, payload: {} })).json().status).toBe('active');
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('bob')).toBe(true);
      expect(
        (await inject({ method: 'POST', url: `/api/members/${m.membershipId}/remove`, headers: auth, payload: { reason: 'left the company' } })).json().status,
      ).toBe('revoked');
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('bob')).toBe(false);
      const audit = (await inject({ method: 'GET', url: `/api/audit?subjectType=membership&subjectId=${m.membershipId}`, headers: auth })).json().items;
      expect(audit.map((a: { action: string }) => a.action).slice(0, 4)).toEqual([
        'membership.removed',
        'membership.remove',
        'membership.invite',
        'membership.unban',
      ]);
      expect(audit.find((a: { action: string }) => a.action === 'membership.ban')).toMatchObject({ actor: 'admin:api', reason: 'spam' });
    });

    it('extend never shortens: a removed member with paid time left gets it back plus the days, and an invite', async ({ t, inject, paidMember }) => {
      const m = await paidMember('returning');
      const paidUntil = (await t.service.deps.store.memberships.get(m.membershipId))!.expiresAt;
      await inject({ method: 'POST', url: `/api/members/${m.membershipId}/remove`, headers: auth, payload: {} });
      await t.service.worker.drain();
      await t.clock.advance(2 * DAY_MS);
      const ext = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days: 5 } });
      expect(ext.json()).toMatchObject({ status: 'active', expiresAt: new Date(paidUntil + 5 * DAY_MS).toISOString() });
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('returning')).toBe(true);
    });

    it('an unbanned member with paid time left is invited again', async ({ t, inject, paidMember }) => {
      const m = await paidMember('dora');
      await inject({ method: 'POST', url: `/api/members/${m.membershipId}/ban`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('dora')).toBe(false);
      await inject({ method: 'POST', url: `/api/members/${m.membershipId}/unban`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(t.gateway.of('invite').filter((c) => c.userId === 'dora')).toHaveLength(2);
      expect(t.gateway.roster('room-1').has('dora')).toBe(true);
    });

    it('refuses extending by zero, negative, fractional or absurd days', async ({ inject, paidMember }) => {
      const m = await paidMember('carol');
      for (const days of [0, -3, 1.5, 100000]) {
        const res = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days } });
        expect(res.statusCode, String(days)).toBe(400);
      }
      const res = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days: 'ten' } });
      expect(res.statusCode).toBe(400);
      expect((await inject({ method: 'POST', url: '/api/members/999999/extend', headers: auth, payload: { days: 1 } })).statusCode).toBe(404);
    });

    it('refuses banning or removing an owner', async ({ t, inject, paidMember }) => {
      const m = await paidMember('owner-member');
      const { code } = await createClaimCode(t.service.deps, admin);
      await redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'owner-member', code });
      const res = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/ban`, headers: auth, payload: {} });
      expect(res.statusCode).toBe(409);
      expect(res.json().message).toBe('an owner cannot be banned');
      await expect(banMember(t.service.deps, { actor: admin, membershipId: m.membershipId })).rejects.toThrow();
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
    });

    it('approves an order held for review: paid and granted', async ({ t, inject }) => {
      const s = await seedOrderDirect(t.service.deps, { userId: 'mismatch' });
      const order = (await t.service.deps.store.orders.get(s.orderId))!;
      const n = t.service.devProvider!.pay(order, { amount_minor: 980 });
      await inject({ method: 'POST', url: '/webhooks/dev', headers: n.headers, payload: n.body });
      const queue = (await inject({ method: 'GET', url: '/api/reviews', headers: auth })).json();
      expect(queue.items.map((o: { id: string }) => o.id)).toEqual([s.orderId]);
      const approved = await inject({ method: 'POST', url: `/api/orders/${s.orderId}/approve`, headers: auth, payload: { reason: 'paid 9.80, close enough' } });
      expect(approved.json().status).toBe('paid');
      await t.service.worker.drain();
      expect(t.gateway.of('invite').map((c) => c.userId)).toEqual(['mismatch']);
      expect((await inject({ method: 'POST', url: `/api/orders/${s.orderId}/approve`, headers: auth, payload: {} })).statusCode).toBe(409);
    });
  });

  describe('refunds', () => {
    it('refunds a paid order: refund number stored first, periods revoked, access withdrawn, member told', async ({ t, inject, paidMember }) => {
      const m = await paidMember('refundee');
      const res = await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: { reason: 'changed mind' } });
      expect(res.statusCode).toBe(202);
      expect(res.json().status).toBe('refund_pending');
      const pending = (await t.service.deps.store.orders.get(m.orderId))!;
      expect(pending.outRefundNo).toMatch(/^[0-9a-f]{32}$/);
      await t.service.worker.drain();
      const done = (await t.service.deps.store.orders.get(m.orderId))!;
      expect(done.status).toBe('refunded');
      expect(done.outRefundNo).toBe(pending.outRefundNo);
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('revoked');
      expect(t.gateway.roster('room-1').has('refundee')).toBe(false);
      expect(t.gateway.of('text').map((c) => c.text)).toContain('Your payment of 9.90 CNY has been refunded.');
      const periods = await t.service.deps.store.periods.listForOrder(m.orderId);
      expect(periods.every((p) => p.revokedAt !== null)).toBe(true);
      const ledger = await t.db.opened.db.selectFrom('payments').select(['kind', 'amount_minor']).where('order_id', '=', m.orderId).orderBy('id').execute();
      expect(ledger).toEqual([
        { kind: 'charge', amount_minor: 990 },
        { kind: 'refund', amount_minor: 990 },
      ]);
    });

    it('keeps access when another paid period is left, with the expiry shortened', async ({ t, inject, paidMember, buy }) => {
      const first = await paidMember('twice');
      const second = await buy('twice', first.planId);
      const full = (await t.service.deps.store.memberships.get(first.membershipId))!.expiresAt;
      await inject({ method: 'POST', url: `/api/orders/${second}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      const m = (await t.service.deps.store.memberships.get(first.membershipId))!;
      expect(m.status).toBe('active');
      expect(m.expiresAt).toBe(full - 30 * DAY_MS);
      expect(t.gateway.roster('room-1').has('twice')).toBe(true);
    });

    // Part 1 of issue 13: a refund takes back only what it paid for.

    it('refunding an order whose period lapsed long ago leaves the period another order pays for alone', async ({ t, inject, paidMember, buy, refundJobs }) => {
      const a = await paidMember('lapser');
      const aEnd = (await t.service.deps.store.memberships.get(a.membershipId))!.expiresAt;
      // A lapses: past its expiry and the grace, removed.
      await t.clock.advance(40 * DAY_MS);
      await t.service.scheduler.tick();
      await t.service.worker.drain();
      expect((await t.service.deps.store.memberships.get(a.membershipId))!.status).toBe('expired');
      expect(t.gateway.roster('room-1').has('lapser')).toBe(false);
      // B: a fresh period starting now.
      await buy('lapser', a.planId);
      const bEnd = t.clock.now() + 30 * DAY_MS;
      expect((await t.service.deps.store.memberships.get(a.membershipId))!).toMatchObject({ status: 'active', expiresAt: bEnd });
      expect(t.gateway.roster('room-1').has('lapser')).toBe(true);
      // Refund A: its days were all used in the earlier cycle; nothing of B's is taken.
      expect((await inject({ method: 'POST', url: `/api/orders/${a.orderId}/refund`, headers: auth, payload: {} })).statusCode).toBe(202);
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(a.orderId))!.status).toBe('refunded');
      expect((await t.service.deps.store.memberships.get(a.membershipId))!).toMatchObject({ status: 'active', expiresAt: bEnd });
      expect(await refundJobs()).toHaveLength(0);
      expect(t.gateway.roster('room-1').has('lapser')).toBe(true);
      expect(aEnd).toBeLessThan(t.clock.now());
      const audit = await t.service.deps.store.audit.list({ subjectType: 'membership', subjectId: String(a.membershipId) });
      expect(audit.find((e) => e.action === 'membership.refund')!.reason).toMatch(/already used, nothing to take back/);
    });

    it('a refund subtracts only the unused part, and stacked periods move earlier so their own refund is exact', async ({
      t,
      inject,
      paidMember,
      buy,
      refundJobs,
    }) => {
      const start = t.clock.now();
      const a = await paidMember('stacker');
      const b = await buy('stacker', a.planId);
      const c = await buy('stacker', a.planId);
      const d = await buy('stacker', a.planId);
      const expiry = async () => (await t.service.deps.store.memberships.get(a.membershipId))!.expiresAt;
      expect(await expiry()).toBe(start + 120 * DAY_MS);
      // B lies wholly in the future: all 30 days go, and C and D move 30 days earlier.
      await inject({ method: 'POST', url: `/api/orders/${b}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(await expiry()).toBe(start + 90 * DAY_MS);
      const span = async (orderId: string) => (await t.service.deps.store.periods.listForOrder(orderId)).map((p) => [p.startsAt - start, p.endsAt - start]);
      expect(await span(c)).toEqual([[30 * DAY_MS, 60 * DAY_MS]]);
      expect(await span(d)).toEqual([[60 * DAY_MS, 90 * DAY_MS]]);
      // 45 days in, C is half used: only its 15 unused days go; D now starts today.
      t.clock.set(start + 45 * DAY_MS);
      await inject({ method: 'POST', url: `/api/orders/${c}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(await expiry()).toBe(start + 75 * DAY_MS);
      expect(await span(d)).toEqual([[45 * DAY_MS, 75 * DAY_MS]]);
      expect((await t.service.deps.store.memberships.get(a.membershipId))!.status).toBe('active');
      // A is long used: refunding it takes nothing.
      await inject({ method: 'POST', url: `/api/orders/${a.orderId}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(await expiry()).toBe(start + 75 * DAY_MS);
      expect(await refundJobs()).toHaveLength(0);
      // D is what is left: refunding it leaves nothing paid, so access is withdrawn.
      await inject({ method: 'POST', url: `/api/orders/${d}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect((await t.service.deps.store.memberships.get(a.membershipId))!).toMatchObject({ status: 'revoked', expiresAt: start + 45 * DAY_MS });
      expect(await refundJobs()).toHaveLength(1);
      expect(t.gateway.roster('room-1').has('stacker')).toBe(false);
    });

    // Part 2 of issue 13: partial refunds never remove anyone.

    it('a partial refund is booked, shown as refundedMinor, audited and told to the owner; the member stays', async ({
      t,
      inject,
      paidMember,
      refundJobs,
      devRefund,
      alertKeys,
      ledgerOf,
    }) => {
      const m = await paidMember('partly');
      const res = await devRefund(m.order.outTradeNo, 'r-1fen', 1);
      expect(res.statusCode).toBe(200);
      // The same refund reported again under a new event id is booked once.
      expect((await devRefund(m.order.outTradeNo, 'r-1fen', 1, 'evt_again')).statusCode).toBe(200);
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('paid');
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
      expect(t.gateway.roster('room-1').has('partly')).toBe(true);
      expect(await refundJobs()).toHaveLength(0);
      expect(await ledgerOf(m.orderId)).toEqual([
        { kind: 'charge', provider_txn_id: m.order.providerTxnId, amount_minor: 990 },
        { kind: 'refund', provider_txn_id: 'r-1fen', amount_minor: 1 },
      ]);
      const shown = (await inject({ method: 'GET', url: `/api/orders/${m.orderId}`, headers: auth })).json();
      expect(shown).toMatchObject({ status: 'paid', amountMinor: 990, refundedMinor: 1, refunded: '0.01' });
      const listed = (await inject({ method: 'GET', url: '/api/orders?status=paid', headers: auth })).json().items;
      expect(listed.find((o: { id: string }) => o.id === m.orderId)).toMatchObject({ refundedMinor: 1 });
      const audit = await t.service.deps.store.audit.list({ subjectType: 'order', subjectId: m.orderId });
      expect(audit.filter((e) => e.action === 'order.partial_refund')).toHaveLength(1);
      expect(await alertKeys()).toEqual(['owner.partial_refund']);
      expect(
        t.service.deps.messages.render('en', {
          key: 'owner.partial_refund',
          params: { orderId: 'X', amount: '0.01 CNY', refunded: '0.01 CNY', charged: '9.90 CNY' },
        }),
      ).toBe('Order X was partly refunded: 0.01 CNY (0.01 CNY of 9.90 CNY refunded so far). The member keeps access; the order stays paid.');
      expect(
        t.service.deps.messages.render('zh-CN', { key: 'owner.partial_refund', params: { orderId: 'X', amount: '0.01', refunded: '0.01', charged: '9.90' } }),
      ).toMatch(/^订单 X 部分退款/);

      // The owner refunds: the whole remaining charge (9.89), then access is withdrawn.
      const asked: number[] = [];
      const dev = t.service.devProvider!;
      t.service.deps.providers.set(
        'dev',
        Object.assign(Object.create(dev) as PaymentProvider, {
          refund: async (req: Parameters<PaymentProvider['refund']>[0]) => (asked.push(req.amountMinor), dev.refund(req)),
        }),
      );
      const refund = await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: {} });
      expect(refund.json()).toMatchObject({ status: 'refund_pending', refundedMinor: 1 });
      await t.service.worker.drain();
      expect(asked).toEqual([989]);
      expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('refunded');
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('revoked');
      expect(t.gateway.roster('room-1').has('partly')).toBe(false);
      expect((await ledgerOf(m.orderId)).map((r) => r.amount_minor)).toEqual([990, 1, 989]);
      expect((await inject({ method: 'GET', url: `/api/orders/${m.orderId}`, headers: auth })).json()).toMatchObject({
        status: 'refunded',
        refundedMinor: 990,
      });
    });

    it('partial refunds that add up to the charge withdraw access at the last one', async ({ t, inject, paidMember, devRefund }) => {
      const m = await paidMember('bits');
      await devRefund(m.order.outTradeNo, 'r-a', 490);
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('paid');
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
      await devRefund(m.order.outTradeNo, 'r-b', 500);
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('refunded');
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('revoked');
      expect(t.gateway.roster('room-1').has('bits')).toBe(false);
      // Nothing left to refund: the owner's refund is refused in one line.
      const again = await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: {} });
      expect(again.statusCode).toBe(409);
      expect(again.json().message).toMatch(/already refunded/);
    });

    it('two partial refunds reported at the same moment that together reach the charge withdraw access', async ({ t, paidMember, devRefund }) => {
      for (const user of ['race-1', 'race-2', 'race-3']) {
        const m = await paidMember(user);
        const answers = await Promise.all([devRefund(m.order.outTradeNo, `${user}-a`, 490), devRefund(m.order.outTradeNo, `${user}-b`, 500)]);
        expect(answers.map((a) => a.statusCode)).toEqual([200, 200]);
        await t.service.worker.drain();
        expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('refunded');
        expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('revoked');
      }
    });

    it('bad input: a refund notification for more than the charge holds the order for review, tells the owner, removes nobody', async ({
      t,
      inject,
      paidMember,
      refundJobs,
      devRefund,
      alertKeys,
    }) => {
      const m = await paidMember('overrun');
      const res = await devRefund(m.order.outTradeNo, 'r-big', 991);
      expect(res.statusCode).toBe(200);
      await t.service.worker.drain();
      const o = (await t.service.deps.store.orders.get(m.orderId))!;
      expect(o.status).toBe('review');
      expect(o.reviewReason).toBe('refunds reported (9.91 CNY) exceed the charge (9.90 CNY)');
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
      expect(t.gateway.roster('room-1').has('overrun')).toBe(true);
      expect(await refundJobs()).toHaveLength(0);
      expect(await alertKeys()).toEqual(['owner.order_review']);
      const audit = await t.service.deps.store.audit.list({ subjectType: 'order', subjectId: m.orderId });
      expect(audit.map((e) => e.action)).toContain('order.refund_overrun');
      expect((await t.service.deps.store.periods.listForOrder(m.orderId)).every((p) => p.revokedAt === null)).toBe(true);
      const queue = (await inject({ method: 'GET', url: '/api/reviews', headers: auth })).json();
      expect(queue.items.map((x: { id: string; refundedMinor: number }) => [x.id, x.refundedMinor])).toEqual([[m.orderId, 991]]);
    });

    it('bad input: a refund notification naming an order of another provider changes nothing', async ({ t, paidMember, ledgerOf }) => {
      const m = await paidMember('elsewhere');
      const other: PaymentProvider = Object.assign(Object.create(t.service.devProvider!) as PaymentProvider, { name: 'wechatpay' });
      const outcome = await handleProviderEvent(
        t.service.deps,
        other,
        {
          type: 'refunded',
          eventId: 'wx-refund-1',
          outTradeNo: m.order.outTradeNo,
          providerRefundId: 'wx-r1',
          amountMinor: 990,
          currency: 'CNY',
          refundedAt: t.clock.now(),
        },
        '{}',
      );
      expect(outcome).toBe('unknown_order');
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('paid');
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
      expect((await ledgerOf(m.orderId)).map((r) => r.kind)).toEqual(['charge']);
      const recorded = await t.db.opened.db
        .selectFrom('webhook_events')
        .select(['provider', 'outcome', 'order_id'])
        .where('event_id', '=', 'wx-refund-1')
        .execute();
      expect(recorded).toEqual([{ provider: 'wechatpay', outcome: 'unknown_order', order_id: null }]);
    });

    it('refuses refunding an unpaid or already refunded order', async ({ t, inject, paidMember }) => {
      const unpaid = await seedOrderDirect(t.service.deps, { userId: 'nopay' });
      const r1 = await inject({ method: 'POST', url: `/api/orders/${unpaid.orderId}/refund`, headers: auth, payload: {} });
      expect(r1.statusCode).toBe(409);
      expect(r1.json().message).toMatch(/is pending: only a paid order can be refunded/);
      const m = await paidMember('once');
      await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: {} });
      const r2 = await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: {} });
      expect(r2.statusCode).toBe(409);
      expect(r2.json().message).toMatch(/already in progress/);
      await t.service.worker.drain();
      const r3 = await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: {} });
      expect(r3.json().message).toMatch(/already refunded/);
      expect((await inject({ method: 'POST', url: '/api/orders/AAAAAAAAAAAAAAAAAAAAAA/refund', headers: auth, payload: {} })).statusCode).toBe(404);
    });

    it('retries an unreachable provider with the same refund number; a rejection puts the order back to paid and tells the owner', async ({
      t,
      inject,
      paidMember,
    }) => {
      const dev = t.service.devProvider!;
      const seen: string[] = [];
      let mode: 'down' | 'reject' | 'ok' = 'down';
      const flaky: PaymentProvider = Object.assign(Object.create(dev) as PaymentProvider, {
        refund: async (req: Parameters<PaymentProvider['refund']>[0]) => {
          seen.push(req.outRefundNo);
          if (mode === 'down') throw new ProviderUnreachableError('dev', 'timeout');
          if (mode === 'reject') throw new ProviderRejectedError('dev', 'insufficient balance');
          return dev.refund(req);
        },
      });
      t.service.deps.providers.set('dev', flaky);
      const m = await paidMember('flaky');
      await inject({ method: 'POST', url: `/api/orders/${m.orderId}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      await t.clock.advance(60_000);
      await t.service.worker.drain();
      expect(seen.length).toBe(2);
      mode = 'ok';
      await t.clock.advance(10 * 60_000);
      await t.service.worker.drain();
      expect(new Set(seen).size).toBe(1);
      expect((await t.service.deps.store.orders.get(m.orderId))!.status).toBe('refunded');

      const other = await paidMember('rejected');
      mode = 'reject';
      await inject({ method: 'POST', url: `/api/orders/${other.orderId}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect((await t.service.deps.store.orders.get(other.orderId))!.status).toBe('paid');
      expect((await t.service.deps.store.memberships.get(other.membershipId))!.status).toBe('active');
      const alerts = await t.service.deps.store.jobs.list({ kind: 'alert_owners' });
      expect(alerts.some((j) => (j.payload as { message: { key: string } }).message.key === 'owner.refund_refused')).toBe(true);
    });
  });

  describe('lists, paging and stats', () => {
    it('pages members and orders with cursors and refuses a tampered cursor', async ({ inject, paidMember }) => {
      for (let i = 0; i < 5; i++) await paidMember(`p${i}`);
      const first = (await inject({ method: 'GET', url: '/api/members?limit=2', headers: auth })).json();
      expect(first.items).toHaveLength(2);
      const second = (await inject({ method: 'GET', url: `/api/members?limit=2&cursor=${first.nextCursor}`, headers: auth })).json();
      const third = (await inject({ method: 'GET', url: `/api/members?limit=2&cursor=${second.nextCursor}`, headers: auth })).json();
      expect(third.nextCursor).toBeNull();
      const ids = [...first.items, ...second.items, ...third.items].map((m: { membershipId: number }) => m.membershipId);
      expect(new Set(ids).size).toBe(5);

      const orders1 = (await inject({ method: 'GET', url: '/api/orders?limit=3&status=paid', headers: auth })).json();
      const orders2 = (await inject({ method: 'GET', url: `/api/orders?limit=3&status=paid&cursor=${orders1.nextCursor}`, headers: auth })).json();
      expect([...orders1.items, ...orders2.items].map((o: { id: string }) => o.id).length).toBe(5);
      expect(orders2.nextCursor).toBeNull();

      const [body, mac] = (first.nextCursor as string).split('.');
      const forged = Buffer.from(JSON.stringify({ id: 0 })).toString('base64url');
      for (const bad of [`${forged}.${mac}`, `${body}.${mac!.slice(0, -1)}A`, 'garbage', `${body}`, orders1.nextCursor]) {
        const res = await inject({ method: 'GET', url: `/api/members?cursor=${encodeURIComponent(bad)}`, headers: auth });
        expect(res.statusCode, bad).toBe(400);
        expect(res.json().message).toMatch(/paging cursor is not valid/);
      }
      expect((await inject({ method: 'GET', url: '/api/members?limit=0', headers: auth })).statusCode).toBe(400);
      expect((await inject({ method: 'GET', url: '/api/members?status=zombie', headers: auth })).statusCode).toBe(400);
    });

    it('filters members expiring soon', async ({ inject, paidMember }) => {
      await paidMember('soon', 3);
      await paidMember('later', 30);
      const res = (await inject({ method: 'GET', url: '/api/members?expiringWithinDays=7', headers: auth })).json();
      expect(res.items.map((m: { platformUserId: string }) => m.platformUserId)).toEqual(['soon']);
    });

    it('reports stats per currency for this month in TZ_DISPLAY', async ({ t, inject, paidMember }) => {
      await paidMember('s1');
      const usd = await seedOrderDirect(t.service.deps, { userId: 's2', price: '5.00', currency: 'USD', chatId: 'room-usd' });
      await payDevDirect(t.service.deps, usd.orderId);
      const stats = (await inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
      expect(stats.month).toBe('2026-01');
      expect(stats.activeMembers).toBe(2);
      expect(stats.revenue).toEqual([
        { currency: 'CNY', chargesMinor: 990, refundsMinor: 0, netMinor: 990, net: '9.90' },
        { currency: 'USD', chargesMinor: 500, refundsMinor: 0, netMinor: 500, net: '5.00' },
      ]);
      expect(stats.renewals).toBe(0);
      expect(stats.churn).toBe(0);
    });
  });
});
