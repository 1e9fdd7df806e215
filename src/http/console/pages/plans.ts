// Plans (issue 15 part 5): the plans of the session's groups with their sales; create (one or several groups, a
// Stars price, renewing), change a plan's price for new orders, disable. Every rule is the use case's
// (app/catalog-admin.ts), the same the CLI, /addplan and the admin API call.
import type { FastifyInstance } from 'fastify';
import { addPlan, disablePlan, previewPlanPrice, setPlanPrice, type SetPlanPriceInput } from '../../../app/catalog-admin.ts';
import type { Plan } from '../../../app/model.ts';
import { consoleGroups, consolePlans } from '../../../app/owner-console.ts';
import { invalid, notFound } from '../../../domain/errors.ts';
import { formatMinor } from '../../../domain/money.ts';
import { html, postForm, statusPill } from '../html.ts';
import { type ConsoleKit, field, fields, idParam } from '../kit.ts';

export function planPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, localeOf, tr, money, need, mutate, page, doneNotice, confirmPage, confirmed } = k;

  /** The plan as the session may see it (its groups are the session's), else "not found". */
  const visiblePlan = async (actor: Parameters<typeof consolePlans>[1], raw: string) => {
    const planId = idParam(raw, 'plan id');
    const row = (await consolePlans(a, actor)).find((r) => r.plan.id === planId);
    if (!row) throw notFound(`no plan with id ${planId}`);
    return row;
  };
  const priceText = (locale: string, p: Pick<Plan, 'priceMinor' | 'currency' | 'starsPrice'>) =>
    money(locale, p.priceMinor, p.currency) + (p.starsPrice === null ? '' : ` · ${tr(locale)('plan_stars_n', { stars: p.starsPrice })}`);

  // ---- the list, and the form for a new plan
  app.get('/console/plans', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const [rows, groups] = await Promise.all([consolePlans(a, s.actor), consoleGroups(a, s.actor)]);
    const notice = doneNotice(req, ['plan_add', 'plan_disable', 'plan_price']);
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
                        <td>
                          <strong>${p.name}</strong> ${p.active ? '' : statusPill('expired', t('plan_disabled'))}
                          ${p.recurring ? statusPill('active', t('plan_recurring')) : ''}
                          ${p.trialDays > 0 ? html`<div class="muted">${t('plan_trial_n', { days: p.trialDays })}</div>` : ''}
                        </td>
                        <td class="num" data-price="${p.id}">${priceText(locale, p)} / ${t('days_n', { days: p.durationDays })}</td>
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
                              ? html`<div class="row tight">
                                  <a class="btn secondary" href="/console/plans/${p.id}" data-change-price="${p.id}">${t('plan_change_price')}</a>
                                  ${postForm(
                                    `/console/plans/${p.id}/disable`,
                                    s.csrfToken,
                                    html`<button type="submit" class="secondary" data-disable="${p.id}">${t('action_disable')}</button>`,
                                  )}
                                </div>`
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
          html`<div class="filters plan-form">
            <label class="wide">${t('col_plan')}<input name="name" required maxlength="100" placeholder="${t('plan_name_hint')}" /></label>
            <fieldset class="wide checks">
              <legend>${t('plan_groups')}</legend>
              ${groups.map(
                (g, i) =>
                  html`<label
                    ><input type="checkbox" name="group" value="${String(g.id)}" ${i === 0 && groups.length === 1 ? 'checked' : ''} /> #${g.id} ${g.title}
                    <span class="muted">${g.platform}</span></label
                  >`,
              )}
            </fieldset>
            <label>${t('col_price')}<input name="price" required inputmode="decimal" placeholder="9.90" /></label>
            <label>${t('col_currency')}<input name="currency" required maxlength="3" value="CNY" /></label>
            <label>${t('days')}<input name="days" required inputmode="numeric" value="30" /></label>
            <label>${t('plan_stars')}<input name="stars" inputmode="numeric" placeholder="${t('plan_stars_hint')}" /></label>
            <label>${t('plan_trial')}<input name="trial" inputmode="numeric" placeholder="${t('plan_trial_hint')}" /></label>
            <label class="check"><input type="checkbox" name="recurring" value="yes" /> ${t('plan_recurring_ask')}</label>
            <button type="submit" id="plan-add">${t('plan_add')}</button>
          </div>`,
          'id="plan-form"',
        )}
        <p class="muted">${t('plan_form_help')}</p>
      </div>`;
    return page(req, reply, s, 'plans', t('plans_title'), body);
  });

  app.post('/console/plans', async (req, reply) => {
    const s = await mutate(req);
    const days = (field(req.body, 'days') ?? '').trim();
    const stars = (field(req.body, 'stars') ?? '').trim();
    const trial = (field(req.body, 'trial') ?? '').trim();
    await addPlan(a, {
      actor: s.actor,
      groupIds: fields(req.body, 'group').map((g) => idParam(g.trim(), 'group')),
      name: field(req.body, 'name') ?? '',
      price: field(req.body, 'price') ?? '',
      currency: field(req.body, 'currency') ?? '',
      days: /^\d{1,6}$/.test(days) ? Number(days) : NaN,
      ...(stars ? { stars } : {}),
      recurring: field(req.body, 'recurring') === 'yes',
      // A free trial before the first payment (as /addplan … trial=<days>); checked by the use case.
      ...(trial ? { trialDays: /^\d{1,6}$/.test(trial) ? Number(trial) : NaN } : {}),
    });
    return reply.redirect('/console/plans?done=plan_add', 303);
  });

  // ---- one plan: what it costs, and a form to change that for new orders (a GET changes nothing)
  app.get<{ Params: { id: string } }>('/console/plans/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const { plan: p, sales } = await visiblePlan(s.actor, req.params.id);
    const groups = new Map((await consoleGroups(a, s.actor)).map((g) => [g.id, g.title]));
    const body = html`<p><a href="/console/plans">← ${t('plans_title')}</a></p>
      <h1>${p.name} ${p.active ? '' : statusPill('expired', t('plan_disabled'))}</h1>
      <div class="panel">
        <dl class="facts">
          <dt>${t('col_price')}</dt>
          <dd id="plan-price">${priceText(locale, p)} / ${t('days_n', { days: p.durationDays })}</dd>
          <dt>${t('col_group')}</dt>
          <dd>${p.groupIds.map((id) => groups.get(id) ?? `#${id}`).join(', ')}</dd>
          <dt>${t('col_sales')}</dt>
          <dd>
            ${sales.length === 0 ? '—' : sales.map((x) => t('sales_line', { orders: x.orders, amount: money(locale, x.netMinor, x.currency) })).join(' · ')}
          </dd>
        </dl>
      </div>
      ${
        p.active
          ? html`<h2>${t('plan_change_price')}</h2>
              <div class="panel">
                ${postForm(
                  `/console/plans/${p.id}/price`,
                  s.csrfToken,
                  html`<div class="filters">
                    <label
                      >${t('plan_new_price', { currency: p.currency })}<input
                        name="price"
                        required
                        inputmode="decimal"
                        value="${formatMinor(p.priceMinor, p.currency)}"
                    /></label>
                    <label
                      >${t('plan_stars')}<input
                        name="stars"
                        inputmode="numeric"
                        value="${p.starsPrice === null ? '' : String(p.starsPrice)}"
                        placeholder="${t('plan_stars_hint')}"
                    /></label>
                    <button type="submit" id="price-save">${t('plan_change_price')}</button>
                  </div>`,
                  'id="price-form"',
                )}
                <p class="muted">${t('plan_price_help')}</p>
              </div>`
          : ''
      }`;
    return page(req, reply, s, 'plans', p.name, body);
  });

  app.post<{ Params: { id: string } }>('/console/plans/:id/price', async (req, reply) => {
    const s = await mutate(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const { plan } = await visiblePlan(s.actor, req.params.id);
    const stars = (field(req.body, 'stars') ?? '').trim();
    const input: SetPlanPriceInput = { planId: plan.id, actor: s.actor, price: (field(req.body, 'price') ?? '').trim(), stars: stars === '' ? null : stars };
    // Checked before the question is asked: bad input is one clear line, and the question names the new price.
    const change = await previewPlanPrice(a, input);
    if (!change.changed) throw invalid(t('plan_price_same'));
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'plans',
        question: t('confirm_plan_price', { name: plan.name, from: priceText(locale, plan), to: priceText(locale, { ...change, currency: plan.currency }) }),
        cancelHref: `/console/plans/${plan.id}`,
        action: `/console/plans/${plan.id}/price`,
        fields: { price: input.price ?? '', stars },
      });
    await setPlanPrice(a, input);
    return reply.redirect('/console/plans?done=plan_price', 303);
  });

  app.post<{ Params: { id: string } }>('/console/plans/:id/disable', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const { plan } = await visiblePlan(s.actor, req.params.id);
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'plans',
        question: t('confirm_plan_disable', { name: plan.name }),
        cancelHref: '/console/plans',
        action: `/console/plans/${plan.id}/disable`,
        danger: true,
      });
    await disablePlan(a, { actor: s.actor, planId: plan.id });
    return reply.redirect('/console/plans?done=plan_disable', 303);
  });
}
