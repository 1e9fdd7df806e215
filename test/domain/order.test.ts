import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.ts';
import {
  ORDER_STATUSES,
  applyOrderEvent,
  isOrderStatus,
  nextOrderStatus,
  orderSourceStatuses,
  type OrderEvent,
  type OrderStatus,
} from '../../src/domain/order.ts';
import { expectDomainError } from './expect-domain-error.ts';

const STATUSES: OrderStatus[] = ['pending', 'paid', 'expired', 'review', 'refund_pending', 'refunded'];
const EVENTS: OrderEvent[] = ['pay', 'expire', 'hold_for_review', 'approve', 'request_refund', 'confirm_refund', 'refund_failed', 'refund_overrun'];

/**
 * The order machine as DESIGN.md "State machines" states it, written out by hand (not derived from src):
 *   pending → paid → refund_pending → refunded;  pending → expired;  expired → paid (late payment honoured);
 *   pending|expired → review (mismatch);  review → paid (owner approves);  review → refund_pending (owner refunds);
 *   refund_pending → paid (provider refused the refund);  paid|refund_pending → review (refunds beyond the charge).
 * Every pair not listed here must be refused.
 */
const ALLOWED: ReadonlyArray<[OrderStatus, OrderEvent, OrderStatus]> = [
  ['pending', 'pay', 'paid'],
  ['expired', 'pay', 'paid'],
  ['pending', 'expire', 'expired'],
  ['pending', 'hold_for_review', 'review'],
  ['expired', 'hold_for_review', 'review'],
  ['review', 'approve', 'paid'],
  ['paid', 'request_refund', 'refund_pending'],
  ['review', 'request_refund', 'refund_pending'],
  ['refund_pending', 'confirm_refund', 'refunded'],
  ['refund_pending', 'refund_failed', 'paid'],
  ['paid', 'refund_overrun', 'review'],
  ['refund_pending', 'refund_overrun', 'review'],
];

function expected(status: OrderStatus, event: OrderEvent): OrderStatus | null {
  return ALLOWED.find(([s, e]) => s === status && e === event)?.[2] ?? null;
}

const ALL_PAIRS = STATUSES.flatMap((s) => EVENTS.map((e) => [s, e, expected(s, e)] as const));

describe('order statuses', () => {
  it('are exactly the six of the design', () => {
    expect([...ORDER_STATUSES].sort()).toEqual([...STATUSES].sort());
    expect(new Set(ORDER_STATUSES).size).toBe(ORDER_STATUSES.length);
  });

  it('isOrderStatus recognises exactly them', () => {
    for (const s of STATUSES) expect(isOrderStatus(s)).toBe(true);
    for (const s of ['', 'PAID', 'Paid', 'failed', 'cancelled', 'refund', 'toString', '__proto__', ' paid']) {
      expect(isOrderStatus(s)).toBe(false);
    }
  });

  it('the table covers every (status, event) pair exactly once', () => {
    expect(ALL_PAIRS).toHaveLength(STATUSES.length * EVENTS.length);
    expect(ALL_PAIRS).toHaveLength(48);
  });
});

describe('nextOrderStatus / applyOrderEvent over every (status, event) pair', () => {
  it.each(ALL_PAIRS)('%s + %s → %s', (status, event, next) => {
    expect(nextOrderStatus(status, event)).toBe(next);
    if (next === null) {
      const err = expectDomainError(() => applyOrderEvent(status, event), 'conflict');
      expect(err.message).toContain(status);
      // Readable for a person: "cannot hold for review", not "cannot hold_for_review".
      expect(err.message.endsWith(`cannot ${event.replace(/_/g, ' ')}`)).toBe(true);
    } else {
      expect(applyOrderEvent(status, event)).toBe(next);
    }
  });
});

describe('order machine: design rules', () => {
  it('the main path pending → paid → refund_pending → refunded', () => {
    let s: OrderStatus = 'pending';
    s = applyOrderEvent(s, 'pay');
    expect(s).toBe('paid');
    s = applyOrderEvent(s, 'request_refund');
    expect(s).toBe('refund_pending');
    s = applyOrderEvent(s, 'confirm_refund');
    expect(s).toBe('refunded');
  });

  it('a late payment for an expired order is honoured', () => {
    expect(applyOrderEvent(applyOrderEvent('pending', 'expire'), 'pay')).toBe('paid');
  });

  it('a paid order cannot be paid again (the conditional update matches nothing)', () => {
    for (const s of ['paid', 'review', 'refund_pending', 'refunded'] as const) {
      expect(nextOrderStatus(s, 'pay')).toBeNull();
      expectDomainError(() => applyOrderEvent(s, 'pay'), 'conflict');
    }
  });

  it('a held order is paid only by an owner approval, never by another notification', () => {
    expect(nextOrderStatus('review', 'pay')).toBeNull();
    expect(nextOrderStatus('review', 'approve')).toBe('paid');
  });

  it('a refused refund puts the order back to paid', () => {
    expect(applyOrderEvent('refund_pending', 'refund_failed')).toBe('paid');
  });

  it('refunded is terminal', () => {
    for (const e of EVENTS) expect(nextOrderStatus('refunded', e)).toBeNull();
  });

  it('a refusal says in words which order state refused which action', () => {
    const err = expectDomainError(() => applyOrderEvent('refunded', 'request_refund'), 'conflict');
    expect(err.message).toBe('an order that is refunded cannot request refund');
  });
});

describe('orderSourceStatuses', () => {
  const SOURCES: Record<OrderEvent, OrderStatus[]> = {
    pay: ['pending', 'expired'],
    expire: ['pending'],
    hold_for_review: ['pending', 'expired'],
    approve: ['review'],
    request_refund: ['paid', 'review'],
    confirm_refund: ['refund_pending'],
    refund_failed: ['refund_pending'],
    refund_overrun: ['paid', 'refund_pending'],
  };

  it.each(EVENTS)('%s may leave from exactly the design statuses', (event) => {
    expect([...orderSourceStatuses(event)].sort()).toEqual([...SOURCES[event]].sort());
  });

  it.each(EVENTS)('%s: the sources are exactly the statuses nextOrderStatus accepts', (event) => {
    const accepted = STATUSES.filter((s) => nextOrderStatus(s, event) !== null);
    expect([...orderSourceStatuses(event)].sort()).toEqual(accepted.sort());
    for (const s of orderSourceStatuses(event)) expect(isOrderStatus(s)).toBe(true);
  });

  it('the guard of a payment is pending|expired (DESIGN "Rules": WHERE status IN (pending, expired))', () => {
    expect([...orderSourceStatuses('pay')].sort()).toEqual(['expired', 'pending']);
  });

  it('returns a fresh array: a caller mutating it cannot change the machine', () => {
    const first = orderSourceStatuses('pay');
    first.push('refunded');
    first.splice(0, 1);
    expect([...orderSourceStatuses('pay')].sort()).toEqual(['expired', 'pending']);
    expect(nextOrderStatus('refunded', 'pay')).toBeNull();
    expect(nextOrderStatus('pending', 'pay')).toBe('paid');
  });
});

describe('order machine: random walks', () => {
  it('any event sequence either follows the design table or throws conflict and leaves the status as it was', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STATUSES), fc.array(fc.constantFrom(...EVENTS), { maxLength: 30 }), (start, events) => {
        let s: OrderStatus = start;
        for (const e of events) {
          const want = expected(s, e);
          try {
            const next = applyOrderEvent(s, e);
            expect(next).toBe(want);
            s = next;
          } catch (err) {
            expect(err).toBeInstanceOf(DomainError);
            expect((err as DomainError).code).toBe('conflict');
            expect(want).toBeNull();
          }
          expect(ORDER_STATUSES).toContain(s);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('from pending, the order reaches refunded only through refund_pending, and never leaves refunded', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...EVENTS), { maxLength: 30 }), (events) => {
        let s: OrderStatus = 'pending';
        for (const e of events) {
          const next = nextOrderStatus(s, e);
          if (next === null) continue;
          if (next === 'refunded') expect(s).toBe('refund_pending');
          if (s === 'refunded') expect.fail('left refunded');
          if (next === 'paid') expect(['pending', 'expired', 'review', 'refund_pending']).toContain(s);
          s = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});
