// The review queue (issue 15 part 4, issue 17): held orders and join applications.
import type { FastifyInstance } from 'fastify';
import { type Order } from '../../../app/model.ts';
import { reviewQueue } from '../../../app/owner-console.ts';
import { approveApplication, rejectApplication } from '../../../app/review.ts';
import { invalid } from '../../../domain/errors.ts';
import { hidden, html, postForm } from '../html.ts';
import { type ConsoleKit, field, idParam } from '../kit.ts';

export function reviewPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, money, need, mutate, page, doneNotice, confirmPage, confirmed } = k;
  // ---- review queue
  app.get('/console/review', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const q = await reviewQueue(a, s.actor);
    const notice = doneNotice(req, ['refund', 'approve', 'app_approve', 'app_reject']);
    const orderButtons = (o: Order) =>
      html`<div class="row">
        ${postForm(`/console/orders/${o.id}/approve`, s.csrfToken, html`${hidden('back', 'review')}<button type="submit" data-approve="${o.id}">${t('action_approve')}</button>`)}
        ${postForm(`/console/orders/${o.id}/refund`, s.csrfToken, html`${hidden('back', 'review')}<button type="submit" class="secondary" data-refund="${o.id}">${t('action_refund')}</button>`)}
      </div>`;
    const body = html`${notice}
      <h1>${t('review_title')}</h1>
      <p><a href="/console/review/rules" id="review-rules">${t('rules_link')} →</a></p>
      <h2>${t('held_heading')}</h2>
      <div class="panel" id="held">
        ${
          q.held.length === 0
            ? html`<p class="muted">${t('held_none')}</p>`
            : q.held.map(
                (o) =>
                  html`<div class="card" data-order="${o.id}">
                    <strong><a href="/console/orders/${o.id}">${money(locale, o.amountMinor, o.currency)} · ${o.provider}</a></strong>
                    <div class="muted">${t('col_held_reason')}: ${o.reviewReason ?? '—'} · ${formatTime(locale, o.createdAt)}</div>
                    ${orderButtons(o)}
                  </div>`,
              )
        }
      </div>
      <h2>${t('applications_heading')}</h2>
      <div class="panel" id="applications">
        ${
          q.applications.length === 0
            ? html`<p class="muted">${t('applications_none')}</p>`
            : q.applications.map(
                (x) =>
                  html`<div class="card" data-application="${x.id}">
                    <strong>#${x.id} ${x.displayName ?? x.platformUserId}</strong> · ${money(locale, x.amountMinor, x.currency)}
                    <div class="muted">${t('deadline')} ${formatTime(locale, x.deadline)}</div>
                    ${
                      x.answers.length
                        ? html`<ul>
                            ${x.answers.map((an) => html`<li>${an.question}: ${an.answer}</li>`)}
                          </ul>`
                        : ''
                    }
                    ${x.verdicts.length ? html`<div class="muted">${x.verdicts.map((v) => `${v.rule}: ${v.verdict}${v.reason ? ` (${v.reason})` : ''}`).join(' · ')}</div>` : ''}
                    ${x.appeal ? html`<div class="muted">${t('appeal')}: ${x.appeal}</div>` : ''}
                    <div class="row">
                      ${postForm(`/console/applications/${x.id}/approve`, s.csrfToken, html`<button type="submit" data-app-approve="${x.id}">${t('action_approve')}</button>`)}
                      ${postForm(`/console/applications/${x.id}/reject`, s.csrfToken, html`<input name="reason" required maxlength="500" placeholder="${t('reject_reason')}" /><button type="submit" class="secondary">${t('action_reject')}</button>`)}
                    </div>
                  </div>`,
              )
        }
      </div>`;
    return page(req, reply, s, 'review', t('review_title'), body);
  });

  app.post<{ Params: { id: string; verb: string } }>('/console/applications/:id/:verb', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const verb = req.params.verb;
    if (verb !== 'approve' && verb !== 'reject') throw invalid(`unknown action "${verb.slice(0, 20)}"`);
    const applicationId = idParam(req.params.id, 'application id');
    const reason = (field(req.body, 'reason') ?? '').trim().slice(0, 500);
    if (verb === 'reject' && !reason) throw invalid(t('reject_reason_needed'));
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'review',
        question: t(`confirm_app_${verb}`, { id: applicationId }),
        reason,
        cancelHref: '/console/review',
        action: `/console/applications/${applicationId}/${verb}`,
        fields: { reason },
      });
    if (verb === 'approve') await approveApplication(a, { actor: s.actor, applicationId, ...(reason ? { reason } : {}) });
    else await rejectApplication(a, { actor: s.actor, applicationId, reason });
    return reply.redirect(`/console/review?done=app_${verb}`, 303);
  });
}
