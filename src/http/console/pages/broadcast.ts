// Broadcast (issue 15 part 6): pick one of the session's groups, write the text, confirm after a preview (the
// message as members will read it, in each language they read, and how many get it), then watch it go out:
// sent / waiting / failed, counted from the outbound queue and refreshed by console.js from a small JSON
// endpoint (GET /console/broadcasts/:id/progress). Every rule is app/broadcast.ts: the text's limits, who gets
// it (the same recipients the chat's /broadcast sends to), the scope, and what progress means.
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  broadcast,
  broadcastStatus,
  type BroadcastStatus,
  MAX_BROADCAST_CHARS,
  previewBroadcast,
  recentBroadcasts,
  recipientCounts,
} from '../../../app/broadcast.ts';
import { consoleGroups } from '../../../app/owner-console.ts';
import { DomainError, invalid } from '../../../domain/errors.ts';
import { html, type Html, postForm } from '../html.ts';
import { type ConsoleKit, field, idParam, query, type Req } from '../kit.ts';

/** A broadcast form posts the text twice at most (the form, then the confirmation): 2,000 characters of CJK
 * text is ~18 KB URL-encoded, over the console's 16 KB form limit. */
const BROADCAST_BODY_LIMIT = 64 * 1024;

const LANGUAGE_NAMES: Record<string, string> = { en: 'English', 'zh-CN': '中文' };

export function broadcastPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, need, mutate, page, doneNotice, confirmPage, confirmed, once, sessionOf } = k;

  /** The live progress of one broadcast: figures console.js refreshes from `data-progress-url` until nothing waits. */
  const progressBlock = (req: Req, b: BroadcastStatus, big: boolean): Html => {
    const t = tr(localeOf(req));
    const p = b.progress;
    const finished = p.waiting === 0;
    const figure = (key: 'sent' | 'waiting' | 'failed') =>
      big
        ? html`<div class="card p-${key}">
            <div class="k">${t(`broadcast_${key}`)}</div>
            <div class="v" data-k="${key}">${p[key]}</div>
          </div>`
        : html`<span class="p-${key}"><b data-k="${key}">${p[key]}</b> ${t(`broadcast_${key}`)}</span>`;
    return html`<div
      class="progress ${big ? 'big' : ''}"
      data-progress-url="/console/broadcasts/${String(b.id)}/progress"
      data-finished="${finished ? 'true' : 'false'}"
      data-failed="${p.failed > 0 ? 'true' : 'false'}"
      data-label-running="${t('broadcast_state_running')}"
      data-label-finished="${t('broadcast_state_finished')}"
    >
      ${big ? html`<div class="cards three">${figure('sent')}${figure('waiting')}${figure('failed')}</div>` : html`<div class="figures">${figure('sent')} · ${figure('waiting')} · ${figure('failed')}</div>`}
      <progress max="${String(Math.max(b.recipients, 1))}" value="${String(p.sent + p.failed)}"></progress>
      <div class="muted state" data-k="state">${finished ? t('broadcast_state_finished') : t('broadcast_state_running')}</div>
    </div>`;
  };

  app.get('/console/broadcast', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const groups = await consoleGroups(a, s.actor);
    const [counts, recent] = await Promise.all([recipientCounts(a, s.actor, groups), recentBroadcasts(a, s.actor)]);
    const chosen = query(req, 'group');
    const form =
      groups.length === 0
        ? html`<p class="muted">${t('broadcast_no_groups')}</p>`
        : postForm(
            '/console/broadcast',
            s.csrfToken,
            html`<div class="compose">
              <label
                >${t('col_group')}<select name="group" required>
                  ${groups.map(
                    (g) =>
                      html`<option value="${String(g.id)}" ${chosen === String(g.id) ? html`selected` : ''}>
                        ${t('broadcast_group_option', { group: g.title, count: counts.get(g.id) ?? 0 })}
                      </option>`,
                  )}
                </select></label
              >
              <label
                >${t('broadcast_text')}<textarea
                  id="broadcast-text"
                  name="text"
                  rows="6"
                  required
                  maxlength="${String(MAX_BROADCAST_CHARS)}"
                  placeholder="${t('broadcast_placeholder')}"
                ></textarea>
              </label>
              <div class="row spread">
                <span class="muted" data-count-for="broadcast-text" data-max="${String(MAX_BROADCAST_CHARS)}">0 / ${MAX_BROADCAST_CHARS}</span>
                <button type="submit" id="broadcast-preview">${t('broadcast_preview_button')}</button>
              </div>
            </div>`,
            'id="broadcast-form"',
          );
    const list =
      recent.length === 0
        ? html`<p class="muted">${t('broadcast_none')}</p>`
        : html`<div id="broadcast-list">
            ${recent.map(
              (b) =>
                html`<div class="item" data-broadcast="${String(b.id)}">
                  <div class="line1">
                    <a href="/console/broadcasts/${String(b.id)}"><strong>#${b.id} ${b.groupTitle}</strong></a>
                    <span class="muted">${formatTime(locale, b.createdAt)} · ${t('broadcast_recipients', { count: b.recipients })}</span>
                  </div>
                  ${progressBlock(req, b, false)}
                </div>`,
            )}
          </div>`;
    const body = html`${doneNotice(req, ['again'])}
      <h1>${t('broadcast_title')}</h1>
      <p class="muted">${t('broadcast_lead')}</p>
      <div class="panel">${form}</div>
      <h2>${t('broadcast_recent')}</h2>
      <div class="panel">${list}</div>`;
    return page(req, reply, s, 'broadcast', t('broadcast_title'), body);
  });

  app.post('/console/broadcast', { bodyLimit: BROADCAST_BODY_LIMIT }, async (req, reply) => {
    const s = await mutate(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const groupId = idParam((field(req.body, 'group') ?? '').trim(), 'group');
    const raw = field(req.body, 'text');
    if (raw === undefined) throw invalid('the broadcast text is empty');
    if (!confirmed(req)) {
      // The same checks and the same recipients as the send itself; nothing is written.
      const pv = await previewBroadcast(a, { actor: s.actor, groupId, text: raw });
      const detail = html`<div class="preview" id="broadcast-preview-box">
        <h2>${t('broadcast_preview_heading')}</h2>
        ${pv.previews.map(
          (p) =>
            html`<div class="preview-one" data-locale="${p.locale}">
              <div class="muted">${t('broadcast_preview_lang', { lang: LANGUAGE_NAMES[p.locale] ?? p.locale, count: p.members })}</div>
              <div class="bubble">${p.message}</div>
            </div>`,
        )}
        ${pv.recipients === 0 ? html`<div class="notice error">${t('broadcast_nobody')}</div>` : ''}
      </div>`;
      return confirmPage(req, reply, s, {
        active: 'broadcast',
        question: t('confirm_broadcast', { count: pv.recipients, group: pv.group.title }),
        detail,
        cancelHref: `/console/broadcast?group=${String(pv.group.id)}`,
        action: '/console/broadcast',
        fields: { group: String(pv.group.id), text: pv.text },
      });
    }
    // Once per confirmation page: a second press (double click, second tab) sends nothing more.
    const r = await once(req, s, () => broadcast(a, { actor: s.actor, groupId, text: raw }));
    if (r.pressed === 'again') return reply.redirect('/console/broadcast?done=again', 303);
    return reply.redirect(`/console/broadcasts/${String(r.result.broadcastId)}?done=broadcast`, 303);
  });

  app.get<{ Params: { id: string } }>('/console/broadcasts/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    // Who sent it, as the header names a session: "Owner #7", "Operator"; the CLI or the admin API as recorded.
    const who = (actor: string) => {
      const owner = /^account:(\d+)$/.exec(actor);
      return owner ? t('who_owner', { id: Number(owner[1]) }) : actor === 'admin:console' ? t('who_operator') : actor;
    };
    const b = await broadcastStatus(a, s.actor, idParam(req.params.id, 'broadcast id'));
    const body = html`${doneNotice(req, ['broadcast'])}
      <h1>${t('broadcast_detail_title', { id: b.id })}</h1>
      <div class="panel">
        <dl class="facts">
          <dt>${t('col_group')}</dt>
          <dd>${b.groupTitle}</dd>
          <dt>${t('col_when')}</dt>
          <dd>${formatTime(locale, b.createdAt)}</dd>
          <dt>${t('col_who')}</dt>
          <dd>${who(b.actor)}</dd>
          <dt>${t('broadcast_length')}</dt>
          <dd>${t('broadcast_chars', { count: b.textLength })}</dd>
          <dt>${t('broadcast_recipients_label')}</dt>
          <dd id="broadcast-recipients">${b.recipients}</dd>
        </dl>
      </div>
      <div class="panel" id="broadcast-progress">${progressBlock(req, b, true)}</div>
      <p><a class="btn secondary" href="/console/broadcast">${t('broadcast_back')}</a></p>`;
    return page(req, reply, s, 'broadcast', t('broadcast_detail_title', { id: b.id }), body);
  });

  // console.js polls this while anything waits. JSON both ways: a signed-out or foreign request gets a JSON
  // refusal (never the sign-in page's HTML), and only broadcasts to the session's groups are found.
  app.get<{ Params: { id: string } }>('/console/broadcasts/:id/progress', async (req, reply: FastifyReply) => {
    const s = await sessionOf(req);
    if (!s) return reply.status(401).send({ error: 'signed_out', message: 'sign in again' });
    try {
      const b = await broadcastStatus(a, s.actor, idParam(req.params.id, 'broadcast id'));
      return reply.send({ id: b.id, recipients: b.recipients, ...b.progress, finished: b.progress.waiting === 0 });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const status = err.code === 'invalid_input' ? 400 : err.code === 'forbidden' ? 403 : 404;
      return reply.status(status).send({ error: err.code, message: err.message });
    }
  });
}
