// The audit log (issue 15 part 7): filter by subject and action.
import type { FastifyInstance } from 'fastify';
import { consoleAudit } from '../../../app/owner-console.ts';
import { html } from '../html.ts';
import { type ConsoleKit, query } from '../kit.ts';

export function auditPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, need, page } = k;
  // ---- audit log (issue 15 part 7, first half): filter by subject and action
  app.get('/console/audit', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const before = query(req, 'before');
    const f = {
      subjectType: query(req, 'subject'),
      subjectId: query(req, 'id'),
      action: query(req, 'action'),
      beforeId: before !== undefined && /^\d{1,15}$/.test(before) ? Number(before) : undefined,
    };
    const rows = await consoleAudit(a, s.actor, { ...f, limit: 51 });
    const shown = rows.slice(0, 50);
    const qs = new URLSearchParams(
      ['subject', 'id', 'action'].flatMap((k) => {
        const v = query(req, k);
        return v === undefined ? [] : [[k, v]];
      }),
    );
    const body = html`<h1>${t('audit_title')}</h1>
      <div class="panel">
        <form class="filters" method="get" action="/console/audit" id="audit-filters">
          <label>${t('filter_subject')}<input name="subject" value="${f.subjectType ?? ''}" placeholder="membership, order, plan, group" /></label>
          <label>${t('filter_subject_id')}<input name="id" value="${f.subjectId ?? ''}" /></label>
          <label>${t('col_action')}<input name="action" value="${f.action ?? ''}" placeholder="membership.extend_by_owner" /></label>
          <span></span>
          <button type="submit">${t('filter_apply')}</button>
        </form>
      </div>
      <div class="panel">
        ${
          shown.length === 0
            ? html`<p class="muted">${t('none')}</p>`
            : html`<table id="audit-log" class="stack">
                <thead>
                  <tr>
                    <th>${t('col_when')}</th>
                    <th>${t('col_who')}</th>
                    <th>${t('col_action')}</th>
                    <th>${t('filter_subject')}</th>
                    <th>${t('reason')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${shown.map(
                    (e) =>
                      html`<tr data-audit="${e.id}">
                        <td>${formatTime(locale, e.at)}</td>
                        <td>${e.actor}</td>
                        <td>${e.action}</td>
                        <td>
                          ${
                            e.subjectType === 'membership'
                              ? html`<a href="/console/members/${e.subjectId}">${e.subjectType} ${e.subjectId}</a>`
                              : e.subjectType === 'order'
                                ? html`<a href="/console/orders/${e.subjectId}">${e.subjectType} ${e.subjectId.slice(0, 8)}…</a>`
                                : `${e.subjectType} ${e.subjectId}`
                          }
                        </td>
                        <td>${e.reason}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        ${
          rows.length > 50
            ? html`<div class="pager">
                <a class="btn secondary" href="/console/audit?${qs.toString()}${qs.size ? '&' : ''}before=${shown[shown.length - 1]!.id}">${t('next_page')}</a>
              </div>`
            : ''
        }
      </div>`;
    return page(req, reply, s, 'audit', t('audit_title'), body);
  });
}
