// Groups (issue 15 part 5, second half): the session's groups, the owner's daily digest, and one group's
// page: every setting of app/group-settings.ts's SETTINGS table (the form is drawn from it, so a new setting
// appears by itself, and saved through updateGroupSettings, as `group set` and PATCH /api/groups/:id), the
// intruder policy with the dry run, the latest report and the whitelist (the use cases /intruders, /whitelist
// and /unwhitelist call, app/roster.ts), and the bot's rights as the platform last told its adapter, in plain words.
import type { FastifyInstance } from 'fastify';
import { setDigest } from '../../../app/digest.ts';
import { doorLinkFor } from '../../../app/door.ts';
import { SETTINGS, updateGroupSettings } from '../../../app/group-settings.ts';
import type { Group } from '../../../app/model.ts';
import { consoleGroup, consoleGroupRows, groupDetail } from '../../../app/owner-console.ts';
import type { BotStanding } from '../../../app/ports.ts';
import {
  confirmRemove,
  dryRun,
  listWhitelist,
  parsePersonRef,
  recentDryRun,
  removalCandidates,
  resolvePerson,
  unwhitelist,
  whitelist,
} from '../../../app/roster.ts';
import type { ConsoleSession } from '../../../app/console-auth.ts';
import { conflict, invalid, notFound, PlatformNotRunningError } from '../../../domain/errors.ts';
import type { HttpDeps } from '../../deps.ts';
import { html, Html, hidden, postForm, statusPill } from '../html.ts';
import { type ConsoleKit, field, idParam, type Req } from '../kit.ts';

/** The setting whose `remove` asks for confirmation before it is saved: from then on people are removed. */
const INTRUDERS = 'intruders';

export function groupPages(app: FastifyInstance, k: ConsoleKit, deps: Pick<HttpDeps, 'botStanding'>) {
  const { a, formatTime, localeOf, tr, need, mutate, page, doneNotice, confirmPage, confirmed } = k;

  /** A catalogue text, or `fallback` (the table's English) for a setting added without console texts yet. */
  const trOr = (locale: string) => {
    const t = tr(locale);
    return (key: string, fallback: string, params: Record<string, string | number> = {}) => {
      try {
        return t(key, params);
      } catch {
        return fallback;
      }
    };
  };
  const platformName = (locale: string, p: string) => trOr(locale)(`platform_${p}`, p);
  const back = (groupId: number, anchor = '') => `/console/groups/${groupId}${anchor}`;

  // ---- the list: every group of the session, and the owner's own daily digest (a per-owner setting)
  app.get('/console/groups', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const rows = await consoleGroupRows(a, s.actor);
    const account = s.accountId === null ? null : await a.store.accounts.get(s.accountId);
    const digestOn = account !== null && !account.digestOff;
    const hour = a.settings.digestHour ?? 9;
    const body = html`${doneNotice(req, ['digest_on', 'digest_off'])}
      <h1>${t('groups_title')}</h1>
      <div class="panel">
        ${
          rows.length === 0
            ? html`<p class="muted">${t('groups_none')}</p>`
            : html`<table id="groups-table" class="stack">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>${t('col_group')}</th>
                    <th>${t('col_chat_platform')}</th>
                    <th class="num">${t('col_members')}</th>
                    <th>${t('setting_joinMode')}</th>
                    <th>${t('setting_intruders')}</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${rows.map(
                    ({ group: g, members }) =>
                      html`<tr data-group="${g.id}">
                        <td>${g.id}</td>
                        <td><a href="/console/groups/${g.id}">${g.title}</a></td>
                        <td>${platformName(locale, g.platform)}</td>
                        <td class="num">${t('members_n', { count: members })}</td>
                        <td>${trOr(locale)(`setting_joinMode_${g.joinMode}`, g.joinMode)}</td>
                        <td>${trOr(locale)(`setting_intruders_${g.intruderPolicy}`, g.intruderPolicy)}</td>
                        <td><a class="btn secondary" href="/console/groups/${g.id}" data-open="${g.id}">${t('group_open')}</a></td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </div>
      <h2>${t('digest_title')}</h2>
      <div class="panel" id="digest">
        ${
          account === null
            ? html`<p class="muted">${t('digest_operator')}</p>`
            : html`<p id="digest-state">${digestOn ? t('digest_is_on', { hour, zone: a.settings.tzDisplay }) : t('digest_is_off')}</p>
                ${postForm(
                  '/console/digest',
                  s.csrfToken,
                  html`${hidden('digest', digestOn ? 'off' : 'on')}<button type="submit" class="${digestOn ? 'secondary' : ''}" id="digest-toggle">
                      ${digestOn ? t('digest_turn_off') : t('digest_turn_on')}
                    </button>`,
                )}`
        }
      </div>`;
    return page(req, reply, s, 'groups', t('groups_title'), body);
  });

  // `/digest on|off`: a plain setting of the owner's own account, saved at once.
  app.post('/console/digest', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const v = field(req.body, 'digest');
    if (v !== 'on' && v !== 'off') throw invalid(t('digest_bad', { got: String(v ?? '').slice(0, 20) }));
    if (s.accountId === null) throw invalid(t('digest_operator'));
    await setDigest(a, s.actor, v === 'on');
    return reply.redirect(`/console/groups?done=digest_${v}`, 303);
  });

  // ---- one group
  app.get<{ Params: { id: string } }>('/console/groups/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const { group: g, whitelist: listed, report } = await groupDetail(a, s.actor, idParam(req.params.id, 'group id'));
    const standing = (await deps.botStanding?.(g)) ?? null;
    const o = trOr(locale);
    const notice = doneNotice(req, ['settings', 'settings_same', 'dry_run', 'whitelist_add', 'whitelist_already', 'whitelist_remove', 'intruders_removing']);
    const settingsForm = postForm(
      `/console/groups/${g.id}/settings`,
      s.csrfToken,
      html`<div class="settings">
          ${SETTINGS.map((st) => {
            const current = st.toText(st.read(g));
            const control = st.choices
              ? html`<select name="${st.key}" id="setting-${st.key}">
                  ${st.choices.map((c) => html`<option value="${c}" ${c === current ? new Html('selected') : ''}>${o(`setting_${st.key}_${c}`, c)}</option>`)}
                </select>`
              : html`<input name="${st.key}" id="setting-${st.key}" value="${current}" maxlength="80" autocomplete="off" />`;
            // The value the page showed, so a save changes only what the owner changed (not a value changed
            // elsewhere since, nor a default the form cannot hold).
            return html`<label data-setting="${st.key}"
              >${o(`setting_${st.key}`, st.label)}${control}${hidden(`was.${st.key}`, current)}<span class="help"
                >${o(`setting_${st.key}_help`, st.description)}</span
              ></label
            >`;
          })}
        </div>
        <div class="row"><button type="submit" id="settings-save">${t('settings_save')}</button></div>`,
      'id="settings-form"',
    );
    // People on the report who were whitelisted since: marked, and not counted among those to remove.
    const staying = new Set(listed.map((w) => w.userId));
    // The button counts whom pressing it removes: the owner's own recent check (removalCandidates), not any report.
    const toRemove = (await removalCandidates(a, s.actor, g))?.people ?? [];
    const who = (name: string | null, userId: string, handle: string | null) =>
      html`${name ?? userId}${handle ? html` <span class="muted">@${handle}</span>` : ''}${name && name !== userId ? html` <code>${userId}</code>` : ''}`;
    const reportPanel = report
      ? html`<p class="muted" id="report-when">${t('report_when', { id: report.id, createdAt: report.createdAt })}</p>
          ${
            report.intruders.length === 0
              ? html`<p id="report-none">${t('report_none')}</p>`
              : html`<table id="report-table" class="stack">
                  <tbody>
                    ${report.intruders.map(
                      (p, i) =>
                        html`<tr data-intruder="${i + 1}">
                          <td>#${i + 1}</td>
                          <td>${who(p.name, p.userId, p.handle)}</td>
                          <td>
                            ${
                              staying.has(p.userId)
                                ? statusPill('active', t('whitelisted'))
                                : postForm(
                                    `/console/groups/${g.id}/whitelist`,
                                    s.csrfToken,
                                    html`${hidden('who', `#${i + 1}`)}<button type="submit" class="secondary" data-let-stay="${i + 1}">
                                        ${t('let_stay')}
                                      </button>`,
                                  )
                            }
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>`
          }`
      : html`<p class="muted" id="report-none">${t('report_never')}</p>`;
    // Shown under every policy: choosing "remove" in the settings removes people who join from then on; the
    // people already on the check are removed with this button (as /intruders <g> remove).
    const removeButton =
      toRemove.length === 0
        ? ''
        : postForm(
            `/console/groups/${g.id}/remove-intruders`,
            s.csrfToken,
            html`<button type="submit" class="danger" id="remove-intruders">${t('remove_intruders', { count: toRemove.length })}</button>`,
          );
    const body = html`${notice}
      <p class="muted"><a href="/console/groups">← ${t('groups_title')}</a></p>
      <h1 id="group-title">${g.title}</h1>
      <p class="muted">${platformName(locale, g.platform)} · #${g.id}</p>
      <h2>${t('bot_title')}</h2>
      <div class="panel" id="bot-standing">${standingLines(locale, g, standing)}</div>
      <h2>${t('settings_title')}</h2>
      <div class="panel">${settingsForm}</div>
      ${
        g.joinMode === 'door'
          ? html`<div class="panel" id="door">
              <p>${t('door_help')}</p>
              ${postForm(`/console/groups/${g.id}/door-link`, s.csrfToken, html`<button type="submit" class="secondary" id="door-link-button">${t('door_button')}</button>`)}
            </div>`
          : ''
      }
      <h2 id="intruders">${t('intruders_title')}</h2>
      <div class="panel">
        <p id="intruder-policy">${t('intruders_policy_now', { policy: o(`setting_intruders_${g.intruderPolicy}`, g.intruderPolicy) })}</p>
        ${reportPanel}
        <div class="row">
          ${postForm(`/console/groups/${g.id}/dry-run`, s.csrfToken, html`<button type="submit" class="secondary" id="dry-run">${t('dry_run_button')}</button>`)}
          ${removeButton}
        </div>
        <p class="muted">${t('dry_run_help')}</p>
      </div>
      <h2 id="whitelist">${t('whitelist_title')}</h2>
      <div class="panel">
        <p class="muted">${t('whitelist_help')}</p>
        ${
          listed.length === 0
            ? html`<p id="whitelist-none">${t('whitelist_none')}</p>`
            : html`<table id="whitelist-table" class="stack">
                <tbody>
                  ${listed.map(
                    (w) =>
                      html`<tr data-whitelisted="${w.userId}">
                        <td>${who(w.name, w.userId, w.handle)}</td>
                        <td class="muted">${formatTime(locale, w.addedAt)}</td>
                        <td>
                          ${postForm(
                            `/console/groups/${g.id}/unwhitelist`,
                            s.csrfToken,
                            html`${hidden('userId', w.userId)}<button type="submit" class="secondary" data-unwhitelist="${w.userId}">
                                ${t('whitelist_remove')}
                              </button>`,
                          )}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
        <div class="row">
          ${postForm(
            `/console/groups/${g.id}/whitelist`,
            s.csrfToken,
            html`<input name="who" required maxlength="101" placeholder="${t('whitelist_who')}" aria-label="${t('whitelist_who')}" id="whitelist-who" /><button
                type="submit"
                id="whitelist-add"
              >
                ${t('whitelist_add')}
              </button>`,
            'id="whitelist-form"',
          )}
        </div>
      </div>`;
    return page(req, reply, s, 'groups', g.title, body);
  });

  /** The bot's rights in the group, one plain sentence each, as the platform last told its adapter. */
  function standingLines(locale: string, g: Group, st: BotStanding | null): Html {
    const t = tr(locale);
    const line = (ok: boolean, text: string, key: string) =>
      html`<p class="standing" data-standing="${key}">${statusPill(ok ? 'active' : 'expired', ok ? t('bot_ok') : t('bot_problem'))} ${text}</p>`;
    const running = a.gateways.has(g.platform) ? '' : line(false, t('bot_not_running', { platform: platformName(locale, g.platform) }), 'not_running');
    if (st === null) return html`${line(true, t('bot_playground'), 'playground')}${running}`;
    if (st.platform === 'wechat')
      return html`${st.boundAt === null ? line(false, t('bot_wechat_unbound'), 'unbound') : line(true, t('bot_wechat_bound', { boundAt: st.boundAt }), 'bound')}${running}`;
    const checked = st.checkedAt === null ? '' : html`<p class="muted" id="bot-checked">${t('bot_checked', { checkedAt: st.checkedAt })}</p>`;
    if (st.status === null) return html`${line(false, t('bot_unknown'), 'unknown')}${running}`;
    if (st.status === 'left' || st.status === 'kicked') return html`${line(false, t('bot_not_in_group'), 'not_in_group')}${running}${checked}`;
    if (st.missing.length === 0) return html`${line(true, t('bot_all_rights'), 'ok')}${running}${checked}`;
    return html`${st.missing.map((m) => line(false, trOr(locale)(`bot_missing_${m}`, t('bot_missing_other', { right: m })), m))}${running}${checked}`;
  }

  // ---- settings: the form's words through the table's own reading (fromText, as `group set`), saved at once;
  // switching intruders to `remove` asks first. A bad value: the use case's one line, nothing saved.
  app.post<{ Params: { id: string } }>('/console/groups/:id/settings', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const g = await consoleGroup(a, s.actor, idParam(req.params.id, 'group id'));
    // Only what the owner changed on the page: a field equal to the value the page showed (was.<key>) is left
    // out, so a stale page does not undo a change made elsewhere since. A POST without was.* sends what it names.
    const given = SETTINGS.flatMap((st) => {
      const v = field(req.body, st.key);
      const was = field(req.body, `was.${st.key}`);
      return v === undefined || (was !== undefined && v.trim() === was.trim()) ? [] : [{ st, text: v }];
    });
    if (given.length === 0) return reply.redirect(`${back(g.id)}?done=settings_same`, 303);
    const changes = Object.fromEntries(given.map(({ st, text }) => [st.key, st.fromText(text)]));
    const toRemove = changes[INTRUDERS] === 'remove' && g.intruderPolicy !== 'remove';
    if (toRemove && !confirmed(req)) {
      // Every value is checked before the question, so a confirmation never ends in a refusal of a typo.
      for (const { st, text } of given) st.check(st.fromText(text));
      const report = await recentDryRun(a, s.actor, g);
      if (report)
        return confirmPage(req, reply, s, {
          active: 'groups',
          question: t('confirm_policy_remove', { group: g.title }),
          cancelHref: back(g.id),
          action: `/console/groups/${g.id}/settings`,
          fields: Object.fromEntries(given.map(({ st, text }) => [st.key, text])),
          danger: true,
        });
      // No dry run of this owner's: the use case refuses it below, with its reason.
    }
    await updateGroupSettings(a, { actor: s.actor, groupId: g.id, changes });
    return reply.redirect(`${back(g.id)}?done=settings`, 303);
  });

  // ---- pay at the door (`/joinmode <group> door` answers with it): a fresh join-request link to post anywhere.
  // It makes a link on the platform and changes nothing here, so it needs no confirmation; the answer is the page.
  app.post<{ Params: { id: string } }>('/console/groups/:id/door-link', async (req, reply) => {
    const s = await mutate(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const g = await consoleGroup(a, s.actor, idParam(req.params.id, 'group id'));
    let link: string | null;
    try {
      link = await doorLinkFor(a, s.actor, g);
    } catch (err) {
      if (err instanceof PlatformNotRunningError) throw invalid(t('door_not_running', { platform: platformName(locale, g.platform) }));
      throw err;
    }
    if (link === null) throw invalid(t('door_not_door'));
    const body = html`<p class="muted"><a href="${back(g.id)}">← ${g.title}</a></p>
      <h1>${t('door_title')}</h1>
      <div class="panel">
        <p>${t('door_link_lead', { group: g.title })}</p>
        <p><a id="door-link" href="${link}">${link}</a></p>
      </div>`;
    return page(req, reply, s, 'groups', t('door_title'), body);
  });

  // ---- the dry run (`/intruders <group>`): who is in the group now without a right to be there. It records
  // the report the owner sees and changes nobody's standing, so it needs no confirmation.
  app.post<{ Params: { id: string } }>('/console/groups/:id/dry-run', async (req, reply) => {
    const s = await mutate(req);
    const locale = localeOf(req);
    const g = await consoleGroup(a, s.actor, idParam(req.params.id, 'group id'));
    try {
      await dryRun(a, s.actor, g);
    } catch (err) {
      if (err instanceof PlatformNotRunningError) throw invalid(tr(locale)('dry_run_not_running', { platform: platformName(locale, g.platform) }));
      throw err;
    }
    return reply.redirect(`${back(g.id)}?done=dry_run#intruders`, 303);
  });

  // ---- `/intruders <group> remove`: remove the people on this owner's dry run and from now on (confirmRemove)
  app.post<{ Params: { id: string } }>('/console/groups/:id/remove-intruders', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const g = await consoleGroup(a, s.actor, idParam(req.params.id, 'group id'));
    // Whitelisted since the report: their removal job lets them stay (mayStay), so they are not named.
    const candidates = await removalCandidates(a, s.actor, g);
    if (!candidates) throw conflict(t('remove_needs_dry_run'));
    const toRemove = candidates.people;
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'groups',
        question: t('confirm_remove_intruders', {
          group: g.title,
          count: toRemove.length,
          names: toRemove.map((p) => p.name).join(', ') || '-',
        }),
        cancelHref: back(g.id, '#intruders'),
        action: `/console/groups/${g.id}/remove-intruders`,
        danger: true,
      });
    const r = await confirmRemove(a, s.actor, g);
    if (!r.set) throw conflict(t('remove_needs_dry_run'));
    return reply.redirect(`${back(g.id)}?done=intruders_removing#intruders`, 303);
  });

  // ---- the whitelist (`/whitelist <group> <user-id>|#n`, `/unwhitelist …`), each after a confirmation
  /** A person as a question names them: their name and id, or the id alone when that is all we know. */
  const named = (t: ReturnType<typeof tr>, p: { name: string | null; userId: string }) =>
    p.name && p.name !== p.userId ? t('person_named', { name: p.name, userId: p.userId }) : p.userId;
  const person = async (req: Req, g: Group, s: ConsoleSession, name: string) => {
    const raw = (field(req.body, name) ?? '').trim();
    const who = parsePersonRef(raw);
    if (!who) throw invalid(tr(localeOf(req))('whitelist_bad', { got: raw.slice(0, 40) }));
    return resolvePerson(a, s.actor, g, who);
  };

  app.post<{ Params: { id: string } }>('/console/groups/:id/whitelist', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const g = await consoleGroup(a, s.actor, idParam(req.params.id, 'group id'));
    const p = await person(req, g, s, 'who');
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'groups',
        question: t('confirm_whitelist', { group: g.title, who: named(t, p) }),
        cancelHref: back(g.id, '#whitelist'),
        action: `/console/groups/${g.id}/whitelist`,
        // The resolved id, so the confirmation adds the person the owner saw even if a new report renumbers.
        fields: { who: p.userId },
      });
    const added = await whitelist(a, s.actor, g, p);
    return reply.redirect(`${back(g.id)}?done=${added ? 'whitelist_add' : 'whitelist_already'}#whitelist`, 303);
  });

  app.post<{ Params: { id: string } }>('/console/groups/:id/unwhitelist', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const g = await consoleGroup(a, s.actor, idParam(req.params.id, 'group id'));
    const p = await person(req, g, s, 'userId');
    if (!(await listWhitelist(a, s.actor, g)).some((w) => w.userId === p.userId)) throw notFound(`${p.userId} is not whitelisted in group ${g.id}`);
    if (!confirmed(req))
      return confirmPage(req, reply, s, {
        active: 'groups',
        question: t('confirm_unwhitelist', { group: g.title, who: named(t, p) }),
        cancelHref: back(g.id, '#whitelist'),
        action: `/console/groups/${g.id}/unwhitelist`,
        fields: { userId: p.userId },
        danger: true,
      });
    if (!(await unwhitelist(a, s.actor, g, p.userId))) throw notFound(`${p.userId} is not whitelisted in group ${g.id}`);
    return reply.redirect(`${back(g.id)}?done=whitelist_remove#whitelist`, 303);
  });
}
