// Plans (issue 15 part 5): the plans of the session's groups with their sales; create, disable.
import type { FastifyInstance } from 'fastify';
import { addPlan, disablePlan } from '../../../app/catalog-admin.ts';
import { consoleGroups, consolePlans } from '../../../app/owner-console.ts';
import { notFound } from '../../../domain/errors.ts';
import { html, postForm, statusPill } from '../html.ts';
import { type ConsoleKit, field, idParam } from '../kit.ts';

export function planPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, localeOf, tr, money, need, mutate, page, doneNotice, confirmPage, confirmed } = k;
  // ---- plans (issue 15 part 5, first half): the plans of the session's groups with their sales; create, disable
  app.get('/console/plans', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const [rows, groups] = await Promise.all([consolePlans(a, s.actor), consoleGroups(a, s.actor)]);
    const notice = doneNotice(req, ['plan_add', 'plan_disable']);
    const groupName = new Map(groups.map((g) => [g.id, g.title]));
    const body = html`${notice}
      <h1>${t('plans_title')}</h1>
      <div class="panel">
        ${
          rows.length === 0
            ? html`<p class="muted">${t('plans_none')}</p>`
            : html`<table id="plans-table" class="stack">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>${t('col_plan')}</th>
                    <th class="num">${t('col_price')}</th>
                    <th>${t('col_group')}</th>
                    <th>${t('col_sales')}</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map(
                    ({ plan: p, sales }) =>
                      html`<tr data-plan="${p.id}">
                        <td>${p.id}</td>
                        <td>${p.name} ${p.active ? '' : statusPill('expired', t('plan_disabled'))}</td>
                        <td class="num">${money(locale, p.priceMinor, p.currency)} / ${t('days_n', { days: p.durationDays })}</td>
                        <td>${p.groupIds.map((id) => groupName.get(id) ?? `#${id}`).join(', ')}</td>
                        <td data-sales="${p.id}">
                          ${
                            sales.length === 0
                              ? '—'
                              : sales.map((x) => t('sales_line', { orders: x.orders, amount: money(locale, x.netMinor, x.currency) })).join(' · ')
                          }
                        </td>
                        <td>
                          ${
                            p.active
                              ? postForm(
                                  `/console/plans/${p.id}/disable`,
                                  s.csrfToken,
                                  html`<button type="submit" class="secondary" data-disable="${p.id}">${t('action_disable')}</button>`,
                                )
                              : ''
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </div>
      <h2>${t('plan_new')}</h2>
      <div class="panel">
        ${postForm(
          '/console/plans',
          s.csrfToken,
          html`<div class="filters">
            <label class="wide">${t('col_plan')}<input name="name" required maxlength="100" placeholder="${t('plan_name_hint')}" /></label>
            <label
              >${t('col_group')}<select name="group">
                ${groups.map((g) => html`<option value="${String(g.id)}">#${g.id} ${g.title}</option>`)}
              </select></label
            >
            <label>${t('col_price')}<input name="price" required inputmode="decimal" placeholder="9.90" /></label>
            <label>${t('col_currency')}<input name="currency" required maxlength="3" value="CNY" /></label>
            <label>${t('days')}<input name="days" required inputmode="numeric" value="30" /></label>
            <button type="submit" id="plan-add">${t('plan_add')}</button>
          </div>`,
          'id="plan-form"',
        )}
      </div>`;
    return page(req, reply, s, 'plans', t('plans_title'), body);
  });

  app.post('/console/plans', async (req, reply) => {
    const s = await mutate(req);
    const days = (field(req.body, 'days') ?? '').trim();
    await addPlan(a, {
      actor: s.actor,
      groupIds: [idParam((field(req.body, 'group') ?? '').trim(), 'group')],
      name: field(req.body, 'name') ?? '',
      price: field(req.body, 'price') ?? '',
      currency: field(req.body, 'currency') ?? '',
      days: /^\d{1,6}$/.test(days) ? Number(days) : NaN,
    });
    return reply.redirect('/console/plans?done=plan_add', 303);
  });

  app.post<{ Params: { id: string } }>('/console/plans/:id/disable', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const planId = idParam(req.params.id, 'plan id');
    const row = (await consolePlans(a, s.actor)).find((r) => r.plan.id === planId);
    if (!row) throw notFound(`no plan with id ${planId}`);
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'plans',
        question: t('confirm_plan_disable', { name: row.plan.name }),
        cancelHref: '/console/plans',
        action: `/console/plans/${planId}/disable`,
        danger: true,
      });
    await disablePlan(a, { actor: s.actor, planId });
    return reply.redirect('/console/plans?done=plan_disable', 303);
  });
}
