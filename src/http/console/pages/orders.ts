// Orders (issue 15 part 4): filters, an order's page with its ledger, refund and approve after confirming.
import type { FastifyInstance } from 'fastify';
import { listOrders, orderDetail } from '../../../app/owner-console.ts';
import { approveOrder } from '../../../app/owners.ts';
import { requestRefund } from '../../../app/refunds.ts';
import { invalid } from '../../../domain/errors.ts';
import { ORDER_STATUSES } from '../../../domain/order.ts';
import { DAY_MS, zonedDateStart } from '../../../domain/time.ts';
import { html, Html, postForm, statusPill } from '../html.ts';
import { type ConsoleKit, field, query, reasonOf } from '../kit.ts';
import { rows } from '../rows.ts';

export function orderPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, money, need, mutate, page, doneNotice, confirmPage, confirmed } = k;
  const { auditRows, orderRows } = rows(k);
  // ---- orders

  app.get('/console/orders', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const tz = a.settings.tzDisplay;
    const date = (name: string) => {
      const v = query(req, name);
      if (v === undefined) return undefined;
      const at = zonedDateStart(v, tz);
      if (at === null) throw invalid(`"${name}" must be a date like 2026-01-31 (got "${v.slice(0, 20)}")`);
      return at;
    };
    const f = {
      status: query(req, 'status'),
      provider: query(req, 'provider'),
      from: date('from'),
      to: ((v) => (v === undefined ? undefined : v + DAY_MS))(date('to')),
    };
    const afterRaw = query(req, 'after');
    const after =
      afterRaw && /^\d{1,15}:[A-Za-z0-9_-]{1,64}$/.test(afterRaw) ? { createdAt: Number(afterRaw.split(':')[0]), id: afterRaw.split(':')[1]! } : undefined;
    const rows = await listOrders(a, s.actor, { ...f, after, limit: 51 });
    const shown = rows.slice(0, 50);
    const refunded = await a.store.payments.refundedByOrder(shown.map((o) => o.id));
    const opt = (value: string, label: string, on: boolean) => html`<option value="${value}" ${on ? new Html('selected') : ''}>${label}</option>`;
    const qs = new URLSearchParams(
      ['status', 'provider', 'from', 'to'].flatMap((k) => {
        const v = query(req, k);
        return v === undefined ? [] : [[k, v]];
      }),
    );
    const last = shown[shown.length - 1];
    const body = html`<h1>${t('orders_title')}</h1>
      <div class="panel">
        <form class="filters" method="get" action="/console/orders" id="order-filters">
          <label
            >${t('col_status')}<select name="status">
              ${opt('', t('filter_all'), f.status === undefined)}${ORDER_STATUSES.map((st) => opt(st, t(`order_${st}`), st === f.status))}
            </select></label
          >
          <label
            >${t('col_provider')}<select name="provider">
              ${opt('', t('filter_all'), f.provider === undefined)}${[...a.providers.keys()].map((p) => opt(p, p, p === f.provider))}
            </select></label
          >
          <label>${t('filter_from')}<input type="date" name="from" value="${query(req, 'from') ?? ''}" /></label>
          <label>${t('filter_to')}<input type="date" name="to" value="${query(req, 'to') ?? ''}" /></label>
          <button type="submit">${t('filter_apply')}</button>
        </form>
      </div>
      <div class="panel">
        ${orderRows(locale, shown, refunded)}
        ${rows.length > 50 && last ? html`<div class="pager"><a class="btn secondary" href="/console/orders?${qs.toString()}${qs.size ? '&' : ''}after=${last.createdAt}:${last.id}">${t('next_page')}</a></div>` : ''}
      </div>`;
    return page(req, reply, s, 'orders', t('orders_title'), body);
  });

  app.get<{ Params: { id: string } }>('/console/orders/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const d = await orderDetail(a, s.actor, req.params.id);
    const o = d.order;
    const notice = doneNotice(req, ['refund', 'approve']);
    const refundable = o.status === 'paid' || o.status === 'review';
    const body = html`${notice}
      <h1>${t('order_heading')} ${statusPill(o.status, t(`order_${o.status}`))}</h1>
      <div class="panel">
        <dl class="facts">
          <dt>${t('col_order')}</dt>
          <dd>${o.id}</dd>
          <dt>${t('col_amount')}</dt>
          <dd>
            ${money(locale, o.amountMinor, o.currency)}${d.refundedMinor ? html` · ${t('refunded_part', { amount: money(locale, d.refundedMinor, o.currency) })}` : ''}
          </dd>
          <dt>${t('col_plan')}</dt>
          <dd>${d.plan ? `#${d.plan.id} ${d.plan.name}` : '—'}</dd>
          <dt>${t('col_buyer')}</dt>
          <dd>${d.account ? `${d.account.displayName ?? d.account.platformUserId} (${d.account.platform} · ${d.account.platformUserId})` : '—'}</dd>
          <dt>${t('col_provider')}</dt>
          <dd>${o.provider}</dd>
          <dt>${t('col_created')}</dt>
          <dd>${formatTime(locale, o.createdAt)}</dd>
          ${
            o.paidAt === null
              ? ''
              : html`<dt>${t('col_paid')}</dt>
                  <dd>${formatTime(locale, o.paidAt)}</dd>`
          }
          ${
            o.reviewReason
              ? html`<dt>${t('col_held_reason')}</dt>
                  <dd>${o.reviewReason}</dd>`
              : ''
          }
          ${
            o.refundReason
              ? html`<dt>${t('col_refund_reason')}</dt>
                  <dd>${o.refundReason}</dd>`
              : ''
          }
        </dl>
      </div>
      ${
        refundable
          ? html`<h2>${t('actions_heading')}</h2>
              <div class="actions">
                ${o.status === 'review' ? postForm(`/console/orders/${o.id}/approve`, s.csrfToken, html`<strong>${t('action_approve')}</strong><label>${t('reason')}<input name="reason" maxlength="500" /></label><button type="submit" id="approve-button">${t('action_approve')}</button>`) : ''}
                ${postForm(`/console/orders/${o.id}/refund`, s.csrfToken, html`<strong>${t('action_refund')}</strong><label>${t('reason')}<input name="reason" maxlength="500" /></label><button type="submit" class="danger" id="refund-button">${t('action_refund')}</button>`)}
              </div>`
          : ''
      }
      <h2>${t('ledger_heading')}</h2>
      <div class="panel">
        ${
          d.payments.length === 0
            ? html`<p class="muted">${t('none')}</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th>${t('col_kind')}</th>
                    <th class="num">${t('col_amount')}</th>
                    <th>${t('col_when')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${d.payments.map(
                    (p) =>
                      html`<tr>
                        <td>${t(`ledger_${p.kind}`)}</td>
                        <td class="num">${money(locale, p.amountMinor, p.currency)}</td>
                        <td>${formatTime(locale, p.occurredAt)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </div>
      <h2>${t('audit_heading')}</h2>
      <div class="panel">${auditRows(locale, d.audit)}</div>`;
    return page(req, reply, s, 'orders', t('order_heading'), body);
  });

  /** Refund or approve an order, with its confirmation step. A second "Confirm" finds the refund under way: one refund. */
  app.post<{ Params: { id: string; verb: string } }>('/console/orders/:id/:verb', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const verb = req.params.verb;
    if (verb !== 'refund' && verb !== 'approve') throw invalid(`unknown action "${verb.slice(0, 20)}"`);
    const d = await orderDetail(a, s.actor, req.params.id);
    const o = d.order;
    const reason = reasonOf(req.body);
    const back = field(req.body, 'back') === 'review' ? '/console/review' : `/console/orders/${o.id}`;
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'orders',
        question: t(`confirm_${verb}_order`, { amount: money(localeOf(req), o.amountMinor - d.refundedMinor, o.currency), id: o.id.slice(0, 8) }),
        reason,
        cancelHref: back,
        action: `/console/orders/${o.id}/${verb}`,
        fields: { reason: reason ?? '', back: field(req.body, 'back') ?? '' },
        danger: verb === 'refund',
      });
    const input = { actor: s.actor, orderId: o.id, ...(reason ? { reason } : {}) };
    if (verb === 'refund') await requestRefund(a, input);
    else await approveOrder(a, input);
    return reply.redirect(back === '/console/review' ? `/console/review?done=${verb}` : `${back}?done=${verb}`, 303);
  });
}
