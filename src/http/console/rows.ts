// Tables more than one console page shows: members, orders and an audit trail (a table on a desktop, a list on a phone).
import { type Order } from '../../app/model.ts';
import { type memberDetail } from '../../app/owner-console.ts';
import { type MembershipView } from '../../app/ports.ts';
import { html, statusPill } from './html.ts';
import type { ConsoleKit } from './kit.ts';

export function rows(k: ConsoleKit) {
  const { formatTime, tr, money } = k;
  const memberRows = (locale: string, rows: MembershipView[]) => {
    const t = tr(locale);
    const name = (m: MembershipView) => m.displayName ?? m.platformUserId;
    return html`<table class="wide" id="members-table">
        <thead>
          <tr>
            <th>#</th>
            <th>${t('col_name')}</th>
            <th>${t('col_platform')}</th>
            <th>${t('col_group')}</th>
            <th>${t('col_status')}</th>
            <th>${t('col_expires')}</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (m) =>
              html`<tr>
                <td><a href="/console/members/${m.id}">${m.id}</a></td>
                <td><a href="/console/members/${m.id}">${name(m)}</a></td>
                <td>${m.platform} · ${m.platformUserId}</td>
                <td>${m.groupId}</td>
                <td>${statusPill(m.status, t(`status_${m.status}`))}</td>
                <td>${formatTime(locale, m.expiresAt)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <div class="list-m">
        ${rows.map(
          (m) =>
            html`<a class="item" href="/console/members/${m.id}"
              ><strong>${name(m)}</strong> ${statusPill(m.status, t(`status_${m.status}`))}
              <div class="line2">#${m.id} · ${m.platform} · ${t('col_expires')} ${formatTime(locale, m.expiresAt)}</div></a
            >`,
        )}
      </div>`;
  };

  const orderRows = (locale: string, orders: Order[], refunded: Map<string, number>) => {
    const t = tr(locale);
    if (orders.length === 0) return html`<p class="muted">${t('none')}</p>`;
    return html`<table id="orders-table" class="stack">
      <thead>
        <tr>
          <th>${t('col_order')}</th>
          <th>${t('col_status')}</th>
          <th class="num">${t('col_amount')}</th>
          <th>${t('col_provider')}</th>
          <th>${t('col_created')}</th>
        </tr>
      </thead>
      <tbody>
        ${orders.map(
          (o) =>
            html`<tr>
              <td><a href="/console/orders/${o.id}">${o.id.slice(0, 8)}…</a></td>
              <td>${statusPill(o.status, t(`order_${o.status}`))}</td>
              <td class="num">
                ${money(locale, o.amountMinor, o.currency)}${refunded.get(o.id) ? html`<div class="muted">${t('refunded_part', { amount: money(locale, refunded.get(o.id)!, o.currency) })}</div>` : ''}
              </td>
              <td>${o.provider}</td>
              <td>${formatTime(locale, o.createdAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  };

  const auditRows = (locale: string, rows: Awaited<ReturnType<typeof memberDetail>>['audit']) => {
    const t = tr(locale);
    if (rows.length === 0) return html`<p class="muted">${t('none')}</p>`;
    return html`<table id="audit-table" class="stack">
      <thead>
        <tr>
          <th>${t('col_when')}</th>
          <th>${t('col_who')}</th>
          <th>${t('col_action')}</th>
          <th>${t('reason')}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (e) =>
            html`<tr>
              <td>${formatTime(locale, e.at)}</td>
              <td>${e.actor}</td>
              <td>${e.action}</td>
              <td>${e.reason}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  };

  return { memberRows, orderRows, auditRows };
}
