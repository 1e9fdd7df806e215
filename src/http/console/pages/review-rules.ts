// Review rules (issue 15 part 5, issue 17): a group's join questions and the blacklist, linked from the review
// queue. The same use cases as the chat's /questions and /blacklist and the CLI (app/review.ts); a removal asks
// for confirmation. The join mode itself is a group setting (the Groups page).
import type { FastifyInstance } from 'fastify';
import { coversEveryGroup, notYourGroup } from '../../../app/actors.ts';
import { consoleGroups } from '../../../app/owner-console.ts';
import {
  addBlacklist,
  addQuestion,
  listBlacklist,
  listQuestions,
  MAX_QUESTION_CHARS,
  MAX_QUESTIONS,
  removeBlacklist,
  removeQuestion,
} from '../../../app/review.ts';
import type { BlacklistEntry } from '../../../app/model.ts';
import { notFound } from '../../../domain/errors.ts';
import { hidden, html, postForm } from '../html.ts';
import { type ConsoleKit, field, idParam, query, reasonOf } from '../kit.ts';

const DONE = ['rules_question_add', 'rules_question_remove', 'rules_blacklist_add', 'rules_blacklist_remove'] as const;

export function reviewRulePages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, need, mutate, page, doneNotice, confirmPage, confirmed } = k;
  const rulesHref = (groupId: number, done?: string) => `/console/review/rules?group=${groupId}${done ? `&done=${done}` : ''}`;

  app.get('/console/review/rules', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const groups = await consoleGroups(a, s.actor);
    const asked = query(req, 'group');
    const groupId = asked === undefined ? groups[0]?.id : idParam(asked, 'group');
    if (groupId === undefined)
      return page(
        req,
        reply,
        s,
        'review',
        t('rules_title'),
        html`<h1>${t('rules_title')}</h1>
          <div class="panel"><p class="muted">${t('rules_no_groups')}</p></div>`,
      );
    // The use cases check the group is the session's (another owner's: one clear line, 403).
    const [questions, blacklist] = await Promise.all([listQuestions(a, s.actor, groupId), listBlacklist(a, s.actor, groupId)]);
    const group = groups.find((g) => g.id === groupId)!;
    // Every-group entries are for whoever acts over every group (the use case's rule): one predicate with the System page.
    const operator = await coversEveryGroup(a.store, s.actor);
    const kindLabel = (e: BlacklistEntry) => t(`rules_blacklist_kind_${e.kind}`) + (e.platform ? ` (${e.platform})` : '');
    const body = html`${doneNotice(req, DONE)}
      <p><a href="/console/review">← ${t('review_title')}</a></p>
      <h1>${t('rules_title')}</h1>
      <div class="pills" id="rule-groups">
        ${groups.map((g) => html`<a href="${rulesHref(g.id)}" class="${g.id === groupId ? 'on' : ''}">#${g.id} ${g.title}</a>`)}
      </div>
      <p class="muted">${t('rules_join_mode', { mode: t(`rules_mode_${group.joinMode}`) })}</p>

      <h2>${t('rules_questions_heading', { max: MAX_QUESTIONS })}</h2>
      <div class="panel" id="questions">
        ${
          questions.length === 0
            ? html`<p class="muted">${t('rules_questions_none')}</p>`
            : html`<ol class="rules">
                ${questions.map(
                  (q) =>
                    html`<li data-question="${q.id}">
                      <span>${q.text}</span>
                      ${postForm(
                        `/console/review/rules/${groupId}/questions/${q.id}/remove`,
                        s.csrfToken,
                        html`<button type="submit" class="secondary" data-remove-question="${q.id}">${t('rules_remove')}</button>`,
                      )}
                    </li>`,
                )}
              </ol>`
        }
        ${
          questions.length < MAX_QUESTIONS
            ? html`<div class="row">
                ${postForm(
                  `/console/review/rules/${groupId}/questions`,
                  s.csrfToken,
                  html`<input
                      name="text"
                      required
                      maxlength="${String(MAX_QUESTION_CHARS)}"
                      placeholder="${t('rules_question_hint')}"
                      aria-label="${t('rules_question_hint')}"
                    /><button type="submit" id="question-add">${t('rules_question_add')}</button>`,
                  'id="question-form"',
                )}
              </div>`
            : html`<p class="muted">${t('rules_questions_full', { max: MAX_QUESTIONS })}</p>`
        }
      </div>

      <h2>${t('rules_blacklist_heading')}</h2>
      <div class="panel" id="blacklist">
        ${
          blacklist.length === 0
            ? html`<p class="muted">${t('rules_blacklist_none')}</p>`
            : html`<table class="stack">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>${t('rules_blacklist_kind')}</th>
                    <th>${t('rules_blacklist_value')}</th>
                    <th>${t('reason')}</th>
                    <th>${t('rules_blacklist_scope')}</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${blacklist.map(
                    (e) =>
                      html`<tr data-entry="${e.id}">
                        <td>${e.id}</td>
                        <td>${kindLabel(e)}</td>
                        <td><code>${e.value}</code></td>
                        <td>${e.reason ?? '—'}</td>
                        <td class="muted">
                          ${e.groupId === null ? t('rules_blacklist_every_group') : t('rules_blacklist_this_group')} · ${formatTime(locale, e.createdAt)}
                        </td>
                        <td>
                          ${
                            e.groupId !== null || operator
                              ? postForm(
                                  `/console/review/blacklist/${e.id}/remove`,
                                  s.csrfToken,
                                  html`${hidden('group', groupId)}<button type="submit" class="secondary" data-remove-entry="${e.id}">
                                      ${t('rules_remove')}
                                    </button>`,
                                )
                              : ''
                          }
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        <h2>${t('rules_blacklist_new')}</h2>
        ${postForm(
          `/console/review/rules/${groupId}/blacklist`,
          s.csrfToken,
          html`<div class="filters">
            <label
              >${t('rules_blacklist_kind')}<select name="kind">
                <option value="user">${t('rules_blacklist_kind_user')}</option>
                <option value="account">${t('rules_blacklist_kind_account')}</option>
                <option value="name">${t('rules_blacklist_kind_name')}</option>
              </select></label
            >
            <label>${t('rules_blacklist_value')}<input name="value" required maxlength="200" /></label>
            <label>${t('reason')}<input name="reason" maxlength="500" /></label>
            ${
              operator
                ? html`<label
                    >${t('rules_blacklist_scope')}<select name="scope">
                      <option value="group">${t('rules_blacklist_this_group')}</option>
                      <option value="all">${t('rules_blacklist_every_group')}</option>
                    </select></label
                  >`
                : ''
            }
            <button type="submit" id="blacklist-add">${t('rules_blacklist_add')}</button>
          </div>`,
          'id="blacklist-form"',
        )}
        <p class="muted">${t('rules_blacklist_help', { platform: group.platform })}</p>
      </div>`;
    return page(req, reply, s, 'review', t('rules_title'), body);
  });

  // A settings save: no confirmation step; bad input (empty, too long, a sixth question) is one clear line.
  app.post<{ Params: { group: string } }>('/console/review/rules/:group/questions', async (req, reply) => {
    const s = await mutate(req);
    const groupId = idParam(req.params.group, 'group');
    await addQuestion(a, s.actor, groupId, field(req.body, 'text') ?? '');
    return reply.redirect(rulesHref(groupId, 'rules_question_add'), 303);
  });

  app.post<{ Params: { group: string; id: string } }>('/console/review/rules/:group/questions/:id/remove', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const groupId = idParam(req.params.group, 'group');
    const questionId = idParam(req.params.id, 'question id');
    const q = (await listQuestions(a, s.actor, groupId)).find((x) => x.id === questionId);
    if (!q) throw notFound(`group ${groupId} has no question with id ${questionId}`);
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'review',
        question: t('rules_confirm_question_remove', { text: q.text }),
        cancelHref: rulesHref(groupId),
        action: `/console/review/rules/${groupId}/questions/${questionId}/remove`,
        danger: true,
      });
    await removeQuestion(a, s.actor, groupId, { id: questionId });
    return reply.redirect(rulesHref(groupId, 'rules_question_remove'), 303);
  });

  app.post<{ Params: { group: string } }>('/console/review/rules/:group/blacklist', async (req, reply) => {
    const s = await mutate(req);
    const groupId = idParam(req.params.group, 'group');
    // A user id names a person on the group's platform (the use case checks the group is the session's).
    const group = (await consoleGroups(a, s.actor)).find((g) => g.id === groupId);
    if (!group) throw notYourGroup(groupId);
    const everyGroup = field(req.body, 'scope') === 'all';
    await addBlacklist(a, s.actor, {
      groupId: everyGroup ? null : groupId,
      kind: field(req.body, 'kind') ?? '',
      value: field(req.body, 'value') ?? '',
      platform: group.platform,
      reason: reasonOf(req.body),
    });
    return reply.redirect(rulesHref(groupId, 'rules_blacklist_add'), 303);
  });

  app.post<{ Params: { id: string } }>('/console/review/blacklist/:id/remove', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const entryId = idParam(req.params.id, 'entry id');
    const back = idParam((field(req.body, 'group') ?? '').trim(), 'group');
    const entry = (await listBlacklist(a, s.actor, back)).find((e) => e.id === entryId);
    if (!entry) throw notFound(`no blacklist entry ${entryId} in your groups`);
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'review',
        question: t('rules_confirm_blacklist_remove', { kind: t(`rules_blacklist_kind_${entry.kind}`), value: entry.value }),
        cancelHref: rulesHref(back),
        action: `/console/review/blacklist/${entryId}/remove`,
        fields: { group: back },
        danger: true,
      });
    await removeBlacklist(a, s.actor, entryId);
    return reply.redirect(rulesHref(back, 'rules_blacklist_remove'), 303);
  });
}
