import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { banMember, createClaimCode, extendMembership, redeemClaimCode, removeMember } from '../../src/app/owners.ts';
import type { PaymentProvider } from '../../src/app/ports.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrder } from '../helpers/fixtures.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';

describe.each(DIALECTS)('owners and refunds (%s)', (dialect) => {
  let t: TestService;
  beforeEach(async () => {
    t = await startTestService(dialect);
  });
  afterEach(async () => {
    await t.close();
  });
  const inject = (o: InjectOptions) => t.service.app.inject(o);
  const pay = (orderId: string) => inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
  const paidMember = async (userId: string, days = 30) => {
    const s = await seedOrder(t.service.app, { userId, days });
    await pay(s.orderId);
    await t.service.worker.drain();
    const order = (await t.service.deps.store.orders.get(s.orderId))!;
    const m = (await t.service.deps.store.memberships.list({ accountId: order.accountId }))[0]!;
    return { ...s, order, membershipId: m.id, accountId: order.accountId };
  };
  const admin: Actor = { kind: 'admin', via: 'api' };

  describe('claim codes', () => {
    it('makes the redeeming account an owner, once', async () => {
      const { code } = (await inject({ method: 'POST', url: '/api/owner-claims', headers: auth })).json();
      expect(code).toMatch(/^claim-[0-9a-f]{32}$/);
      const owner = await redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'boss', code: `  ${code.toUpperCase()} ` });
      expect(owner.isOwner).toBe(true);
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'thief', code })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already used/) });
      expect((await t.service.deps.store.accounts.find('playground', 'thief'))?.isOwner ?? false).toBe(false);
    });

    it('refuses expired and mistyped codes', async () => {
      const { code } = await createClaimCode(t.service.deps, admin);
      await t.clock.advance(24 * HOUR_MS + 1);
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'late', code })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/expired/) });
      const fresh = await createClaimCode(t.service.deps, admin);
      const typo = fresh.code.slice(0, -1) + (fresh.code.endsWith('0') ? '1' : '0');
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'x', code: typo })).rejects.toMatchObject({ message: expect.stringMatching(/unknown claim code/) });
      await expect(redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'x', code: 'hello' })).rejects.toMatchObject({ code: 'invalid_input' });
      expect((await t.service.deps.store.accounts.listOwners()).length).toBe(0);
    });
  });

  describe('owner actions', () => {
    it('an owner action by a non-owner is refused and changes nothing', async () => {
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

    it('extends, removes, bans and unbans through the admin API with an audit line each', async () => {
      const m = await paidMember('bob');
      const before = (await t.service.deps.store.memberships.get(m.membershipId))!.expiresAt;
      const ext = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days: 7, reason: 'apology' } });
      expect(ext.statusCode).toBe(200);
      expect(Date.parse(ext.json().expiresAt)).toBe(before + 7 * DAY_MS);
      expect((await inject({ method: 'POST', url: `/api/members/${m.membershipId}/ban`, headers: auth, payload: { reason: 'spam' } })).json().status).toBe('banned');
      await t.service.worker.drain();
      expect(t.gateway.of('remove').at(-1)).toMatchObject({ userId: 'bob', ban: true });
      const again = await inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId: 'bob', planId: m.planId, provider: 'dev' } });
      expect(again.statusCode).toBe(403);
      expect((await inject({ method: 'POST', url: `/api/members/${m.membershipId}/unban`, headers: auth, payload: {} })).json().status).toBe('active');
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('bob')).toBe(true);
      expect((await inject({ method: 'POST', url: `/api/members/${m.membershipId}/remove`, headers: auth, payload: { reason: 'left the company' } })).json().status).toBe('revoked');
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('bob')).toBe(false);
      const audit = (await inject({ method: 'GET', url: `/api/audit?subjectType=membership&subjectId=${m.membershipId}`, headers: auth })).json().items;
      expect(audit.map((a: { action: string }) => a.action).slice(0, 4)).toEqual(['membership.removed', 'membership.remove', 'membership.invite', 'membership.unban']);
      expect(audit.find((a: { action: string }) => a.action === 'membership.ban')).toMatchObject({ actor: 'admin:api', reason: 'spam' });
    });

    it('extend never shortens: a removed member with paid time left gets it back plus the days, and an invite', async () => {
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

    it('an unbanned member with paid time left is invited again', async () => {
      const m = await paidMember('dora');
      await inject({ method: 'POST', url: `/api/members/${m.membershipId}/ban`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(t.gateway.roster('room-1').has('dora')).toBe(false);
      await inject({ method: 'POST', url: `/api/members/${m.membershipId}/unban`, headers: auth, payload: {} });
      await t.service.worker.drain();
      expect(t.gateway.of('invite').filter((c) => c.userId === 'dora')).toHaveLength(2);
      expect(t.gateway.roster('room-1').has('dora')).toBe(true);
    });

    it('refuses extending by zero, negative, fractional or absurd days', async () => {
      const m = await paidMember('carol');
      for (const days of [0, -3, 1.5, 100000]) {
        const res = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days } });
        expect(res.statusCode, String(days)).toBe(400);
      }
      const res = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/extend`, headers: auth, payload: { days: 'ten' } });
      expect(res.statusCode).toBe(400);
      expect((await inject({ method: 'POST', url: '/api/members/999999/extend', headers: auth, payload: { days: 1 } })).statusCode).toBe(404);
    });

    it('refuses banning or removing an owner', async () => {
      const m = await paidMember('owner-member');
      const { code } = await createClaimCode(t.service.deps, admin);
      await redeemClaimCode(t.service.deps, { platform: 'playground', userId: 'owner-member', code });
      const res = await inject({ method: 'POST', url: `/api/members/${m.membershipId}/ban`, headers: auth, payload: {} });
      expect(res.statusCode).toBe(409);
      expect(res.json().message).toBe('an owner cannot be banned');
      await expect(banMember(t.service.deps, { actor: admin, membershipId: m.membershipId })).rejects.toThrow();
      expect((await t.service.deps.store.memberships.get(m.membershipId))!.status).toBe('active');
    });

    it('approves an order held for review: paid and granted', async () => {
      const s = await seedOrder(t.service.app, { userId: 'mismatch' });
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
    it('refunds a paid order: refund number stored first, periods revoked, access withdrawn, member told', async () => {
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

    it('keeps access when another paid period is left, with the expiry shortened', async () => {
      const first = await paidMember('twice');
      const second = await t.service.app.inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId: 'twice', planId: first.planId, provider: 'dev' } });
      await pay(second.json().orderId);
      const full = (await t.service.deps.store.memberships.get(first.membershipId))!.expiresAt;
      await inject({ method: 'POST', url: `/api/orders/${second.json().orderId}/refund`, headers: auth, payload: {} });
      await t.service.worker.drain();
      const m = (await t.service.deps.store.memberships.get(first.membershipId))!;
      expect(m.status).toBe('active');
      expect(m.expiresAt).toBe(full - 30 * DAY_MS);
      expect(t.gateway.roster('room-1').has('twice')).toBe(true);
    });

    it('refuses refunding an unpaid or already refunded order', async () => {
      const unpaid = await seedOrder(t.service.app, { userId: 'nopay' });
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

    it('retries an unreachable provider with the same refund number; a rejection puts the order back to paid and tells the owner', async () => {
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
    it('pages members and orders with cursors and refuses a tampered cursor', async () => {
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

    it('filters members expiring soon', async () => {
      await paidMember('soon', 3);
      await paidMember('later', 30);
      const res = (await inject({ method: 'GET', url: '/api/members?expiringWithinDays=7', headers: auth })).json();
      expect(res.items.map((m: { platformUserId: string }) => m.platformUserId)).toEqual(['soon']);
    });

    it('reports stats per currency for this month in TZ_DISPLAY', async () => {
      await paidMember('s1');
      const usd = await seedOrder(t.service.app, { userId: 's2', price: '5.00', currency: 'USD', chatId: 'room-usd' });
      await pay(usd.orderId);
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
