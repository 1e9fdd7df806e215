// Growth (issue 16 item 6): trial, coupon and referral figures; coupons; top referrers.
import type { FastifyInstance } from 'fastify';
import { createCoupon, disableCoupon, listCoupons } from '../../../app/coupons.ts';
import { consolePlans } from '../../../app/owner-console.ts';
import { topReferrers } from '../../../app/referrals.ts';
import { computeStats } from '../../../app/stats.ts';
import { notFound } from '../../../domain/errors.ts';
import { html, postForm, statusPill } from '../html.ts';
import { type ConsoleKit, field, fields, idParam } from '../kit.ts';

export function growthPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, money, need, mutate, page, doneNotice, confirmPage, confirmed } = k;
  // ---- growth (issue 16 item 6): this month's trial and coupon figures (computeStats: the numbers GET /api/stats
  // gives), the referral rewards booked, the coupons of the session's plans (create, disable after confirming)
  // and the top referrers (topReferrers, as GET /api/referrals). Every action is the use case `gatekeeper coupon …` calls.
  app.get('/console/growth', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const [stats, coupons, plans, top] = await Promise.all([
      computeStats(a, s.actor),
      listCoupons(a, s.actor),
      consolePlans(a, s.actor),
      topReferrers(a, s.actor, 10),
    ]);
    const notice = doneNotice(req, ['coupon_add', 'coupon_disable']);
    const g = stats.growth;
    const card = (k: string, v: string | number, id: string) =>
      html`<div class="card" id="${id}">
        <div class="k">${k}</div>
        <div class="v">${v}</div>
      </div>`;
    const planName = new Map(plans.map((r) => [r.plan.id, r.plan.name]));
    const discount = (c: (typeof coupons)[number]) => (c.percent !== null ? `${c.percent} %` : money(locale, c.amountMinor!, c.currency!));
    const body = html`${notice}
      <h1>${t('growth_title')}</h1>
      <div class="cards">
        ${card(t('card_trials', { month: stats.month }), g.trialsStarted, 'card-trials')}
        ${card(t('card_conversion'), `${Math.round(g.trialConversion * 1000) / 10} % (${g.trialsConverted})`, 'card-conversion')}
        ${card(t('card_coupons', { month: stats.month }), g.couponsRedeemed, 'card-coupons')}
        ${card(t('card_rewards'), t('rewards_line', { booked: stats.referrals.booked, days: stats.referrals.days }), 'card-rewards')}
      </div>
      <h2>${t('coupons_title')}</h2>
      <div class="panel">
        ${
          coupons.length === 0
            ? html`<p class="muted">${t('coupons_none')}</p>`
            : html`<table id="coupons-table" class="stack">
                <thead>
                  <tr>
                    <th>${t('col_code')}</th>
                    <th class="num">${t('col_discount')}</th>
                    <th>${t('col_plans')}</th>
                    <th class="num">${t('col_uses')}</th>
                    <th>${t('col_valid_until')}</th>
                    <th>${t('col_status')}</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${coupons.map(
                    (c) =>
                      html`<tr data-coupon="${c.code}">
                        <td><code>${c.code}</code></td>
                        <td class="num">${discount(c)}</td>
                        <td>${c.planIds === null ? t('coupon_any_plan') : c.planIds.map((id) => planName.get(id) ?? `#${id}`).join(', ')}</td>
                        <td class="num" data-uses="${c.code}">${c.uses} / ${c.maxUses ?? '∞'}</td>
                        <td>${c.validUntil === null ? '—' : formatTime(locale, c.validUntil)}</td>
                        <td>${c.active ? statusPill('active', t('coupon_active')) : statusPill('expired', t('coupon_disabled'))}</td>
                        <td>
                          ${
                            c.active
                              ? postForm(
                                  `/console/coupons/${encodeURIComponent(c.code)}/disable`,
                                  s.csrfToken,
                                  html`<button type="submit" class="secondary" data-disable="${c.code}">${t('coupon_disable')}</button>`,
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
      <h2>${t('coupon_new')}</h2>
      <div class="panel">
        ${postForm(
          '/console/coupons',
          s.csrfToken,
          html`<div class="filters">
            <label>${t('col_code')}<input name="code" required maxlength="32" placeholder="SPRING" /></label>
            <label>${t('coupon_percent')}<input name="percent" inputmode="numeric" placeholder="20" /></label>
            <label>${t('coupon_amount')}<input name="amount" inputmode="decimal" placeholder="5.00" /></label>
            <label>${t('col_currency')}<input name="currency" maxlength="3" placeholder="CNY" /></label>
            <label class="wide"
              >${t('col_plans')}<select name="plan" multiple required>
                ${plans.filter((r) => r.plan.active).map((r) => html`<option value="${String(r.plan.id)}">#${r.plan.id} ${r.plan.name} · ${money(locale, r.plan.priceMinor, r.plan.currency)}</option>`)}
              </select></label
            >
            <label>${t('coupon_max_uses')}<input name="maxUses" inputmode="numeric" placeholder="100" /></label>
            <label>${t('col_valid_until')}<input name="validUntil" type="date" /></label>
            <button type="submit" id="coupon-add">${t('coupon_add')}</button>
          </div>`,
          'id="coupon-form"',
        )}
      </div>
      <h2>${t('referrers_title')}</h2>
      <div class="panel">
        ${
          top.length === 0
            ? html`<p class="muted">${t('referrers_none')}</p>`
            : html`<table id="referrers-table" class="stack">
                <thead>
                  <tr>
                    <th>${t('col_name')}</th>
                    <th>${t('col_platform')}</th>
                    <th class="num">${t('col_referred')}</th>
                    <th class="num">${t('days')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${top.map(
                    (r) =>
                      html`<tr data-referrer="${String(r.accountId)}">
                        <td>${r.displayName ?? '—'}</td>
                        <td>${r.platform} ${r.platformUserId}</td>
                        <td class="num">${r.referred}</td>
                        <td class="num">${r.days}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </div>`;
    return page(req, reply, s, 'growth', t('growth_title'), body);
  });

  app.post('/console/coupons', async (req, reply) => {
    const s = await mutate(req);
    const text = (name: string) => {
      const v = (field(req.body, name) ?? '').trim();
      return v === '' ? undefined : v;
    };
    const whole = (name: string) => {
      const v = text(name);
      return v === undefined ? undefined : /^\d{1,9}$/.test(v) ? Number(v) : NaN;
    };
    // A multi-select posts `plan` once per chosen plan: one string or several.
    const planIds = fields(req.body, 'plan').map((p) => idParam(p.trim(), 'plan'));
    await createCoupon(a, {
      actor: s.actor,
      code: field(req.body, 'code') ?? '',
      ...(text('percent') !== undefined ? { percent: whole('percent') } : {}),
      ...(text('amount') !== undefined ? { amount: text('amount') } : {}),
      ...(text('currency') !== undefined ? { currency: text('currency') } : {}),
      planIds,
      ...(text('maxUses') !== undefined ? { maxUses: whole('maxUses') } : {}),
      ...(text('validUntil') !== undefined ? { validUntil: text('validUntil') } : {}),
    });
    return reply.redirect('/console/growth?done=coupon_add', 303);
  });

  app.post<{ Params: { code: string } }>('/console/coupons/:code/disable', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const code = req.params.code.trim().toUpperCase();
    // Only a coupon this session may see is named back (another owner's code: not found, like disableCoupon).
    const coupon = (await listCoupons(a, s.actor)).find((c) => c.code === code);
    if (!coupon) throw notFound(`no coupon ${code}`);
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'growth',
        question: t('confirm_coupon_disable', { code: coupon.code }),
        cancelHref: '/console/growth',
        action: `/console/coupons/${encodeURIComponent(coupon.code)}/disable`,
        danger: true,
      });
    await disableCoupon(a, { actor: s.actor, code: coupon.code });
    return reply.redirect('/console/growth?done=coupon_disable', 303);
  });
}
