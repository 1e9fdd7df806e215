// The overview (issue 15 part 2): the figures of computeStats (the numbers GET /api/stats gives) and the revenue chart.
import type { FastifyInstance } from 'fastify';
import { listMembers } from '../../../app/owner-console.ts';
import { computeStats, type RevenueSeries } from '../../../app/stats.ts';
import { zoneLabel } from '../../../conversation/format.ts';
import { currencyExponent } from '../../../domain/money.ts';
import { html, type Html } from '../html.ts';
import { type ConsoleKit, query } from '../kit.ts';
import { rows } from '../rows.ts';

export function overviewPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, localeOf, tr, money, page, bare, signInHelp, sessionOf } = k;
  const { memberRows } = rows(k);
  // ---- overview
  app.get('/console', async (req, reply) => {
    const s = await sessionOf(req);
    const locale = localeOf(req);
    const t = tr(locale);
    if (!s) return bare(req, reply, 200, t('signin_title'), signInHelp(locale, t('signin_lead')));
    const stats = await computeStats(a, s.actor);
    const soon = await listMembers(a, s.actor, { expiringWithinDays: 7, soonestFirst: true, limit: 10 });
    const range = query(req, 'range') === 'monthly' ? 'monthly' : 'daily';
    const series: RevenueSeries = stats[range];
    const currencies = Object.keys(series.netMinor);
    const currency = currencies.includes(query(req, 'currency') ?? '') ? query(req, 'currency')! : (currencies[0] ?? null);
    const now = a.clock.now();
    const zone = `${a.settings.tzDisplay} (${zoneLabel(now, a.settings.tzDisplay)})`;
    const revenue = stats.revenue.length === 0 ? '0' : stats.revenue.map((r) => money(locale, r.netMinor, r.currency)).join(' · ');
    const card = (k: string, v: string | number, id: string, href?: string) =>
      html`<div class="card" id="${id}">
        <div class="k">${k}</div>
        <div class="v">${href ? html`<a href="${href}">${v}</a>` : v}</div>
      </div>`;
    const cards = html`<div class="cards">
      ${card(t('card_revenue', { month: stats.month }), revenue, 'card-revenue')}
      ${card(t('card_active'), stats.activeMembers, 'card-active', '/console/members?status=active')} ${card(t('card_new'), stats.newMembers, 'card-new')}
      ${card(t('card_renewals'), stats.renewals, 'card-renewals')} ${card(t('card_churn'), stats.churn, 'card-churn')}
      ${card(t('card_expiring'), stats.expiringSoon, 'card-expiring', '/console/members?expiring=7')}
      ${card(t('card_review'), stats.reviewQueue, 'card-review', '/console/review')}
      ${stats.deadLetters === null ? '' : card(t('card_dead'), stats.deadLetters, 'card-dead', '/console/system#dead-letters')}
    </div>`;
    const pill = (label: string, href: string, on: boolean) => html`<a href="${href}" class="${on ? 'on' : ''}">${label}</a>`;
    const qs = (r: string, c: string | null) => `/console?range=${r}${c ? `&currency=${c}` : ''}`;
    let chart: Html;
    if (currency === null) {
      chart = html`<p class="muted" id="no-revenue">${t('chart_empty')}</p>`;
    } else {
      const minor = series.netMinor[currency]!;
      const scale = 10 ** currencyExponent(currency);
      const short = series.labels.map((l) => (range === 'daily' ? l.slice(5) : l));
      const data = JSON.stringify({ labels: series.labels, short, currency, values: minor.map((v) => v / scale), minor });
      chart = html`<div
          class="chart"
          id="revenue-chart"
          data-series="${data}"
          data-range="${range}"
          data-currency="${currency}"
          role="img"
          aria-label="${t('chart_title', { currency })}"
        ></div>
        <details>
          <summary class="muted">${t('chart_table')}</summary>
          <table id="revenue-table">
            <thead>
              <tr>
                <th>${range === 'daily' ? t('col_day') : t('col_month')}</th>
                <th class="num">${currency}</th>
              </tr>
            </thead>
            <tbody>
              ${series.labels.map(
                (l, i) =>
                  html`<tr>
                    <td>${l}</td>
                    <td class="num" data-minor="${minor[i]!}">${money(locale, minor[i]!, currency)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </details>`;
    }
    const body = html`<h1>${t('overview_title')}</h1>
      ${cards}
      <div class="panel">
        <h2>${t('chart_heading')}</h2>
        <div class="pills">
          ${pill(t('range_daily'), qs('daily', currency), range === 'daily')}${pill(t('range_monthly'), qs('monthly', currency), range === 'monthly')}
          ${currencies.length > 1 ? currencies.map((c) => pill(c, qs(range, c), c === currency)) : ''}
        </div>
        ${chart}
      </div>
      <div class="panel">
        <h2>${t('expiring_heading')}</h2>
        ${soon.length === 0 ? html`<p class="muted">${t('expiring_none')}</p>` : memberRows(locale, soon)}
      </div>
      <p class="muted" id="zone">${t('times_in', { zone })}</p>`;
    return page(req, reply, s, 'overview', t('overview_title'), body, { chart: currency !== null });
  });
}
