// Members (issue 15 part 3): search and filters, CSV, a member's page, extend / remove / ban / unban after confirming.
import type { FastifyInstance } from 'fastify';
import { memberCsvHeader, memberCsvLine } from '../../../app/members-csv.ts';
import { consoleGroups, listMembers, memberDetail, type MemberReferrals, type ReferralLine } from '../../../app/owner-console.ts';
import type { ReferralReward } from '../../../app/ports.ts';
import { banMember, checkExtendDays, extendMembership, removeMember, unbanMember } from '../../../app/owners.ts';
import { invalid } from '../../../domain/errors.ts';
import { MEMBERSHIP_STATUSES } from '../../../domain/membership.ts';
import { html, Html, postForm, statusPill } from '../html.ts';
import { type ConsoleKit, field, idParam, query, reasonOf, type Req } from '../kit.ts';
import { rows } from '../rows.ts';

export function memberPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, formatTime, localeOf, tr, need, mutate, page, doneNotice, confirmPage, confirmed, once } = k;
  const { auditRows, memberRows, orderRows } = rows(k);
  // ---- members

  const memberFilterOf = (req: Req) => {
    const g = query(req, 'group');
    const exp = query(req, 'expiring');
    const after = query(req, 'after');
    const num = (v: string | undefined, what: string) => {
      if (v === undefined) return undefined;
      if (!/^-?\d{1,9}$/.test(v)) throw invalid(`${what} must be a whole number (got "${v.slice(0, 20)}")`);
      return Number(v);
    };
    return {
      search: query(req, 'q'),
      groupId: num(g, 'group'),
      status: query(req, 'status'),
      expiringWithinDays: num(exp, '"expiring within"'),
      afterId: num(after, 'after'),
    };
  };

  app.get('/console/members', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const f = memberFilterOf(req);
    const [groups, rows] = await Promise.all([consoleGroups(a, s.actor), listMembers(a, s.actor, { ...f, limit: 51 })]);
    const more = rows.length > 50;
    const shown = rows.slice(0, 50);
    const qs = new URLSearchParams(
      Object.entries({ q: f.search, group: f.groupId, status: f.status, expiring: f.expiringWithinDays })
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
    const opt = (value: string, label: string, on: boolean) => html`<option value="${value}" ${on ? new Html('selected') : ''}>${label}</option>`;
    const body = html`<h1>${t('members_title')}</h1>
      <div class="panel">
        <form class="filters" method="get" action="/console/members" id="member-filters">
          <label class="wide">${t('filter_search')}<input name="q" value="${f.search ?? ''}" placeholder="${t('filter_search_hint')}" /></label>
          <label
            >${t('col_group')}<select name="group">
              ${opt('', t('filter_all'), f.groupId === undefined)}${groups.map((g) => opt(String(g.id), `#${g.id} ${g.title}`, g.id === f.groupId))}
            </select></label
          >
          <label
            >${t('col_status')}<select name="status">
              ${opt('', t('filter_all'), f.status === undefined)}${MEMBERSHIP_STATUSES.map((st) => opt(st, t(`status_${st}`), st === f.status))}
            </select></label
          >
          <label>${t('filter_expiring')}<input name="expiring" inputmode="numeric" value="${f.expiringWithinDays ?? ''}" placeholder="7" /></label>
          <button type="submit">${t('filter_apply')}</button>
        </form>
        <p><a href="/console/members.csv?${qs.toString()}" id="csv">${t('csv_download')}</a></p>
      </div>
      <div class="panel">
        ${shown.length === 0 ? html`<p class="muted">${t('members_none')}</p>` : memberRows(locale, shown)}
        ${more ? html`<div class="pager"><a class="btn secondary" href="/console/members?${qs.toString()}${qs.size ? '&' : ''}after=${shown[shown.length - 1]!.id}">${t('next_page')}</a></div>` : ''}
      </div>`;
    return page(req, reply, s, 'members', t('members_title'), body);
  });

  app.get('/console/members.csv', async (req, reply) => {
    const s = await need(req);
    const f = memberFilterOf(req);
    const lines = [memberCsvHeader()];
    // Walks the whole filter in pages (bounded: a page at a time, until a short page).
    for (let afterId: number | undefined = undefined; ;) {
      const rows = await listMembers(a, s.actor, { ...f, afterId, limit: 500 });
      for (const m of rows) lines.push(memberCsvLine(m));
      if (rows.length < 500) break;
      afterId = rows[rows.length - 1]!.id;
    }
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="members.csv"')
      .send(`${lines.join('\n')}\n`);
  });

  /** Who brought the member and whom they brought to this group, with what each referral earned (referral rewards, issue 16). */
  const referralRows = (locale: string, r: MemberReferrals) => {
    const t = tr(locale);
    const who = (p: ReferralLine['person']) => (p ? `${p.displayName ?? p.platformUserId} (${p.platform} · ${p.platformUserId})` : '—');
    const outcome = (w: ReferralReward | null) =>
      w === null ? t('referral_waiting') : w.status === 'booked' ? t('referral_booked', { days: w.days }) : t(`referral_${w.status}`);
    if (r.referredBy === null && r.brought.length === 0) return html`<p class="muted">${t('referrals_none')}</p>`;
    return html`${r.referredBy === null ? '' : html`<p id="referred-by">${t('referred_by', { who: who(r.referredBy) })} · ${outcome(r.referredByReward)}</p>`}
    ${
      r.brought.length === 0
        ? ''
        : html`<table class="stack" id="referrals-table">
            <thead>
              <tr>
                <th>${t('col_referred_person')}</th>
                <th>${t('col_status')}</th>
                <th>${t('col_when')}</th>
              </tr>
            </thead>
            <tbody>
              ${r.brought.map(
                (x) =>
                  html`<tr data-referred="${String(x.reward.referredId)}">
                    <td>${who(x.person)}</td>
                    <td>${outcome(x.reward)}</td>
                    <td>${formatTime(locale, x.reward.createdAt)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
  };

  app.get<{ Params: { id: string } }>('/console/members/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const d = await memberDetail(a, s.actor, idParam(req.params.id, 'member id'));
    const m = d.member;
    const notice = doneNotice(req, ['extend', 'remove', 'ban', 'unban', 'again']);
    const action = (verb: string, inner: Html, button: string, danger = false) =>
      postForm(
        `/console/members/${m.id}/${verb}`,
        s.csrfToken,
        html`<strong>${t(`action_${verb}`)}</strong>${inner}<label>${t('reason')}<input name="reason" maxlength="500" /></label
          ><button type="submit" class="${danger ? 'danger' : ''}" id="${verb}-button">${button}</button>`,
        `id="${verb}-form"`,
      );
    const actions = html`<div class="actions">
      ${m.status === 'banned' ? '' : action('extend', html`<label>${t('days')}<input name="days" inputmode="numeric" required value="30" /></label>`, t('action_extend'))}
      ${m.status === 'active' || m.status === 'grace' ? action('remove', html``, t('action_remove'), true) : ''}
      ${m.status === 'banned' ? action('unban', html``, t('action_unban')) : action('ban', html``, t('action_ban'), true)}
    </div>`;
    const body = html`${notice}
      <h1>${m.displayName ?? m.platformUserId} ${statusPill(m.status, t(`status_${m.status}`))}</h1>
      <div class="panel">
        <dl class="facts">
          <dt>${t('col_group')}</dt>
          <dd>#${d.group.id} ${d.group.title} (${d.group.platform})</dd>
          <dt>${t('col_platform')}</dt>
          <dd>${m.platform} · ${m.platformUserId}</dd>
          <dt>${t('col_expires')}</dt>
          <dd id="expires">${formatTime(locale, m.expiresAt)}</dd>
          <dt>${t('member_id')}</dt>
          <dd>#${m.id} · ${t('account_id')} ${m.accountId}</dd>
        </dl>
      </div>
      <h2>${t('actions_heading')}</h2>
      ${actions}
      <h2>${t('periods_heading')}</h2>
      <div class="panel">
        <table class="stack">
          <thead>
            <tr>
              <th>${t('col_kind')}</th>
              <th>${t('col_from')}</th>
              <th>${t('col_to')}</th>
              <th class="num">${t('days')}</th>
              <th>${t('col_order')}</th>
            </tr>
          </thead>
          <tbody>
            ${d.periods.map(
              (p) =>
                html`<tr>
                  <td>${t(`period_${p.kind}`)}${p.revokedAt === null ? '' : html` <span class="status revoked">${t('revoked')}</span>`}</td>
                  <td>${formatTime(locale, p.startsAt)}</td>
                  <td>${formatTime(locale, p.endsAt)}</td>
                  <td class="num">${p.days}</td>
                  <td>${p.orderId ? html`<a href="/console/orders/${p.orderId}">${p.orderId.slice(0, 8)}…</a>` : '—'}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        ${d.periods.length === 0 ? html`<p class="muted">${t('none')}</p>` : ''}
      </div>
      <h2>${t('orders_heading')}</h2>
      <div class="panel">${orderRows(locale, d.orders, new Map())}</div>
      <h2>${t('referrals_heading')}</h2>
      <div class="panel" id="referrals">${referralRows(locale, d.referrals)}</div>
      <h2>${t('audit_heading')}</h2>
      <div class="panel">${auditRows(locale, d.audit)}</div>`;
    return page(req, reply, s, 'members', m.displayName ?? m.platformUserId, body);
  });

  /** The confirmation step of a member action (nothing changes until "Confirm" is pressed). */
  app.post<{ Params: { id: string; verb: string } }>('/console/members/:id/:verb', async (req, reply) => {
    const s = await mutate(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const verb = req.params.verb;
    if (!['extend', 'remove', 'ban', 'unban'].includes(verb)) throw invalid(`unknown action "${verb.slice(0, 20)}"`);
    const membershipId = idParam(req.params.id, 'member id');
    const reason = reasonOf(req.body);
    const daysText = (field(req.body, 'days') ?? '').trim();
    let days = 0;
    if (verb === 'extend') {
      days = /^[+-]?\d{1,9}$/.test(daysText) ? Number(daysText) : NaN;
      checkExtendDays(days);
    }
    const d = await memberDetail(a, s.actor, membershipId);
    if (!confirmed(req)) {
      const name = d.member.displayName ?? d.member.platformUserId;
      return confirmPage(req, reply, s, {
        active: 'members',
        question: t(`confirm_${verb}`, { name, group: d.group.title, days }),
        reason,
        cancelHref: `/console/members/${membershipId}`,
        action: `/console/members/${membershipId}/${verb}`,
        fields: { reason: reason ?? '', ...(verb === 'extend' ? { days } : {}) },
        danger: verb === 'ban' || verb === 'remove',
      });
    }
    const input = { actor: s.actor, membershipId, ...(reason ? { reason } : {}) };
    if (verb === 'extend') {
      // Days are added each time: once per confirmation page, so a double click or a second tab adds them once.
      const r = await once(req, s, () => extendMembership(a, { ...input, days }));
      if (r.pressed === 'again') return reply.redirect(`/console/members/${membershipId}?done=again`, 303);
    } else if (verb === 'remove') await removeMember(a, input);
    else if (verb === 'ban') await banMember(a, input);
    else await unbanMember(a, input);
    return reply.redirect(`/console/members/${membershipId}?done=${verb}`, 303);
  });
}
