// The owner console (issue 15): server-rendered pages at /console for an owner's phone or desktop. This
// layer only translates: the session and link rules live in app/console-auth.ts, what a session may see in
// app/owner-console.ts and app/actors.ts, the figures in app/stats.ts, and every action is the same use
// case the chat, the CLI and the admin API call (app/owners.ts, app/refunds.ts, app/review.ts).
//
// Security: the session cookie is HttpOnly, SameSite=Strict and Secure when PUBLIC_URL is https; every
// POST but the sign-in carries the session's CSRF token (a form field); pages send a strict CSP with no
// inline script or style, X-Frame-Options DENY, no Referer to other sites (a sign-in link never leaks) and no caching.
// A GET never changes anything: opening a sign-in link shows a "Sign in" button (chat apps fetch links
// for their previews), and every action asks for confirmation before it is carried out.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCsrf, type ConsoleSession, LoginRefused, redeemLoginLink, sessionFromToken, signOut } from '../../app/console-auth.ts';
import { memberCsvHeader, memberCsvLine } from '../../app/members-csv.ts';
import type { Order } from '../../app/model.ts';
import { addPlan, disablePlan } from '../../app/catalog-admin.ts';
import { createCoupon, disableCoupon, listCoupons } from '../../app/coupons.ts';
import { approveOrder, banMember, checkExtendDays, extendMembership, removeMember, unbanMember } from '../../app/owners.ts';
import { consoleAudit, consoleGroups, consolePlans, listMembers, listOrders, memberDetail, orderDetail, reviewQueue } from '../../app/owner-console.ts';
import type { MembershipView } from '../../app/ports.ts';
import { topReferrers } from '../../app/referrals.ts';
import { requestRefund } from '../../app/refunds.ts';
import { approveApplication, rejectApplication } from '../../app/review.ts';
import { badgeFigures, computeStats, type RevenueSeries } from '../../app/stats.ts';
import { resolveLocale } from '../../conversation/catalog.ts';
import { createDateTimeFormatter, formatMoneyIn, zoneLabel } from '../../conversation/format.ts';
import { DomainError, invalid, notFound } from '../../domain/errors.ts';
import { MEMBERSHIP_STATUSES } from '../../domain/membership.ts';
import { currencyExponent } from '../../domain/money.ts';
import { ORDER_STATUSES } from '../../domain/order.ts';
import { DAY_MS, zonedDateStart } from '../../domain/time.ts';
import { consoleAssets } from '../console/assets.ts';
import { html, Html, hidden, layout, type Nav, postForm, statusPill } from '../console/html.ts';
import type { HttpDeps } from '../deps.ts';
import { acceptedLocale } from './pay-page.ts';

const SESSION_COOKIE = 'gk_console';
const LANG_COOKIE = 'gk_lang';
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** A request without a live session: a page is sent to the sign-in page, a POST refused. */
class SignedOut extends Error {}
/** A POST without the session's CSRF token. */
class CsrfRefused extends Error {}

type Req = FastifyRequest;
type Body = Record<string, unknown>;

const field = (body: unknown, name: string): string | undefined => {
  const v = (body as Body | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
};
const query = (req: Req, name: string): string | undefined => {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

export async function consoleRoutes(app: FastifyInstance, deps: HttpDeps) {
  const a = deps.app;
  const secure = a.settings.publicUrl.startsWith('https:');
  const sessionDays = a.settings.consoleSessionDays ?? 7;
  const formatTime = createDateTimeFormatter(a.settings.tzDisplay);
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 16 * 1024 });

  // A POST from another site's page is refused before anything is read (a second guard next to the
  // SameSite=Strict cookie and the CSRF token; it also keeps another site from signing a browser in with a
  // link of its own). Browsers send Origin on every POST; a client that sends none (curl) is let through to
  // the session and CSRF checks.
  const ownOrigin = new URL(a.settings.publicUrl).origin;
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST') return;
    const origin = req.headers.origin;
    if (origin === undefined || origin === ownOrigin || origin === `${req.protocol}://${req.headers.host ?? ''}`) return;
    return reply.status(403).type('text/plain; charset=utf-8').send('cross-site request refused');
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    if (!req.url.startsWith('/console/assets/')) {
      reply.header('content-security-policy', CSP);
      reply.header('cache-control', 'no-store');
    }
    return payload;
  });

  // ---- language: ?lang= switches (and is remembered), else the browser's, else DEFAULT_LOCALE
  const localeOf = (req: Req): string => {
    const asked = query(req, 'lang');
    if (asked === 'en' || asked === 'zh-CN') return asked;
    const saved = req.cookies[LANG_COOKIE];
    if (saved === 'en' || saved === 'zh-CN') return saved;
    return resolveLocale(acceptedLocale(req.headers['accept-language']), a.settings.defaultLocale);
  };
  const tr =
    (locale: string) =>
    (key: string, params: Record<string, string | number> = {}) =>
      a.messages.render(locale, { key: `console.${key}`, params });
  const money = (locale: string, minor: number, currency: string) => formatMoneyIn(locale, minor, currency);

  // ---- sessions
  const sessionOf = async (req: Req): Promise<ConsoleSession | null> => sessionFromToken(a, req.cookies[SESSION_COOKIE]);
  const need = async (req: Req): Promise<ConsoleSession> => {
    const s = await sessionOf(req);
    if (!s) throw new SignedOut();
    return s;
  };
  /** A state-changing request: a live session and its CSRF token. */
  const mutate = async (req: Req): Promise<ConsoleSession> => {
    const s = await need(req);
    if (!checkCsrf(s, field(req.body, '_csrf'))) throw new CsrfRefused();
    return s;
  };
  const setSessionCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(SESSION_COOKIE, token, { path: '/console', httpOnly: true, sameSite: 'strict', secure, maxAge: sessionDays * 86_400 });

  async function nav(req: Req, s: ConsoleSession, locale: string, active: Nav['active']): Promise<Nav> {
    const t = tr(locale);
    const badges = await badgeFigures(a, s.actor);
    const other = locale === 'zh-CN' ? 'en' : 'zh-CN';
    const path = req.url.split('?')[0]!;
    return {
      active,
      labels: {
        overview: t('nav_overview'),
        members: t('nav_members'),
        orders: t('nav_orders'),
        review: t('nav_review'),
        plans: t('nav_plans'),
        growth: t('nav_growth'),
        audit: t('nav_audit'),
        signOut: t('sign_out'),
        language: '',
      },
      reviewQueue: badges.reviewQueue,
      who: s.accountId === null ? t('who_operator') : t('who_owner', { id: s.accountId }),
      csrf: s.csrfToken,
      otherLang: { href: `${path}?lang=${other}`, label: other === 'en' ? 'English' : '中文' },
    };
  }

  async function page(
    req: Req,
    reply: FastifyReply,
    s: ConsoleSession,
    active: Nav['active'],
    title: string,
    body: Html,
    opts: { chart?: boolean; status?: number } = {},
  ) {
    const locale = localeOf(req);
    const asked = query(req, 'lang');
    if (asked === 'en' || asked === 'zh-CN') reply.setCookie(LANG_COOKIE, asked, { path: '/console', sameSite: 'strict', secure, maxAge: 365 * 86_400 });
    const n = await nav(req, s, locale, active);
    return reply
      .status(opts.status ?? 200)
      .type('text/html; charset=utf-8')
      .send(layout({ locale, title, body, nav: n, ...(opts.chart ? { chart: true } : {}) }));
  }

  function bare(req: Req, reply: FastifyReply, status: number, title: string, body: Html) {
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(layout({ locale: localeOf(req), title, body }));
  }

  // Errors on console pages are pages: a clear line and a way back, never JSON or a stack.
  app.setErrorHandler(async (err, req, reply) => {
    const locale = localeOf(req);
    const t = tr(locale);
    if (err instanceof SignedOut) {
      if (req.method === 'GET') return reply.redirect('/console', 303);
      return bare(req, reply, 401, t('signed_out_title'), signInHelp(locale, t('signed_out')));
    }
    if (err instanceof CsrfRefused)
      return bare(
        req,
        reply,
        403,
        t('error_title'),
        html`<div class="signin">
          <div class="card"><p>${t('csrf_refused')}</p></div>
        </div>`,
      );
    let status = 500;
    let message = t('error_internal');
    if (err instanceof DomainError) {
      status = { invalid_input: 400, not_found: 404, conflict: 409, forbidden: 403, unauthorized: 401 }[err.code];
      message = err.message;
    } else if ((err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500) {
      status = (err as { statusCode: number }).statusCode;
      message = t('error_bad_request');
    } else {
      req.log.error({ err }, 'console error');
    }
    const s = await sessionOf(req).catch(() => null);
    const body = html`<h1>${t('error_title')}</h1>
      <div class="notice error" id="error">${message}</div>
      <p><a class="btn secondary" href="/console">${t('back_overview')}</a></p>`;
    if (!s) return bare(req, reply, status, t('error_title'), body);
    return page(req, reply, s, null, t('error_title'), body, { status });
  });

  const signInHelp = (locale: string, lead: string) => {
    const t = tr(locale);
    return html`<div class="signin">
      <div class="card">
        <h1>${t('signin_title')}</h1>
        <p>${lead}</p>
        <p class="muted">${t('signin_how_chat')}</p>
        <p class="muted">${t('signin_how_cli')} <code>npx gatekeeper owner login-link</code></p>
      </div>
    </div>`;
  };

  // ---- assets (same origin; long-cached: they change only with the release)
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    const asset = consoleAssets().get(req.params.name);
    if (!asset) return reply.status(404).type('text/plain').send('not found');
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
  });

  // ---- sign-in
  app.get('/console/login', async (req, reply) => {
    const locale = localeOf(req);
    const t = tr(locale);
    const token = query(req, 'token') ?? '';
    const body = html`<div class="signin">
      <div class="card">
        <h1>${t('signin_title')}</h1>
        <p>${t('signin_press')}</p>
        <form method="post" action="/console/login" data-once>${hidden('token', token)}<button type="submit" id="sign-in">${t('signin_button')}</button></form>
        <p class="muted">${t('signin_once')}</p>
      </div>
    </div>`;
    return bare(req, reply, 200, t('signin_title'), body);
  });
  app.post('/console/login', async (req, reply) => {
    const t = tr(localeOf(req));
    try {
      const { sessionToken } = await redeemLoginLink(a, field(req.body, 'token') ?? '');
      setSessionCookie(reply, sessionToken);
      return reply.redirect('/console', 303);
    } catch (err) {
      if (!(err instanceof LoginRefused)) throw err;
      return bare(req, reply, 400, t('signin_title'), signInHelp(localeOf(req), t(`link_${err.reason}`)));
    }
  });
  app.post('/console/logout', async (req, reply) => {
    await mutate(req);
    await signOut(a, req.cookies[SESSION_COOKIE] ?? '');
    reply.clearCookie(SESSION_COOKIE, { path: '/console', httpOnly: true, sameSite: 'strict', secure });
    const t = tr(localeOf(req));
    return bare(req, reply, 200, t('signed_out_title'), signInHelp(localeOf(req), t('signed_out_done')));
  });

  // ---- overview
  app.get('/console', async (req, reply) => {
    const s = await sessionOf(req);
    const locale = localeOf(req);
    const t = tr(locale);
    if (!s) return bare(req, reply, 200, t('signin_title'), signInHelp(locale, t('signin_lead')));
    const stats = await computeStats(a, s.actor);
    const soon = await listMembers(a, s.actor, { expiringWithinDays: 7, limit: 10 });
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
      ${stats.deadLetters === null ? '' : card(t('card_dead'), stats.deadLetters, 'card-dead')}
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

  // ---- members
  const memberRows = (locale: string, rows: MembershipView[]) => {
    const t = tr(locale);
    const name = (m: MembershipView) => m.displayName ?? m.platformUserId;
    return html`<table class="wide" id="members-table">
        <thead>
          <tr>
            <th>#</th>
            <th>${t('col_name')}</th>
            <th>${t('col_platform')}</th>
            <th>${t('col_group')}</th>
            <th>${t('col_status')}</th>
            <th>${t('col_expires')}</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (m) =>
              html`<tr>
                <td><a href="/console/members/${m.id}">${m.id}</a></td>
                <td><a href="/console/members/${m.id}">${name(m)}</a></td>
                <td>${m.platform} · ${m.platformUserId}</td>
                <td>${m.groupId}</td>
                <td>${statusPill(m.status, t(`status_${m.status}`))}</td>
                <td>${formatTime(locale, m.expiresAt)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <div class="list-m">
        ${rows.map(
          (m) =>
            html`<a class="item" href="/console/members/${m.id}"
              ><strong>${name(m)}</strong> ${statusPill(m.status, t(`status_${m.status}`))}
              <div class="line2">#${m.id} · ${m.platform} · ${t('col_expires')} ${formatTime(locale, m.expiresAt)}</div></a
            >`,
        )}
      </div>`;
  };

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

  const idParam = (raw: string, what: string) => {
    if (!/^\d{1,9}$/.test(raw)) throw invalid(`${what} must be a number`);
    return Number(raw);
  };

  app.get<{ Params: { id: string } }>('/console/members/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const d = await memberDetail(a, s.actor, idParam(req.params.id, 'member id'));
    const m = d.member;
    const done = query(req, 'done');
    const notice = done && ['extend', 'remove', 'ban', 'unban'].includes(done) ? html`<div class="notice" id="done">${t(`done_${done}`)}</div>` : '';
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
      <h2>${t('audit_heading')}</h2>
      <div class="panel">${auditRows(locale, d.audit)}</div>`;
    return page(req, reply, s, 'members', m.displayName ?? m.platformUserId, body);
  });

  const auditRows = (locale: string, rows: Awaited<ReturnType<typeof memberDetail>>['audit']) => {
    const t = tr(locale);
    if (rows.length === 0) return html`<p class="muted">${t('none')}</p>`;
    return html`<table id="audit-table" class="stack">
      <thead>
        <tr>
          <th>${t('col_when')}</th>
          <th>${t('col_who')}</th>
          <th>${t('col_action')}</th>
          <th>${t('reason')}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (e) =>
            html`<tr>
              <td>${formatTime(locale, e.at)}</td>
              <td>${e.actor}</td>
              <td>${e.action}</td>
              <td>${e.reason}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  };

  /** The confirmation step of a member action (nothing changes until "Confirm" is pressed). */
  app.post<{ Params: { id: string; verb: string } }>('/console/members/:id/:verb', async (req, reply) => {
    const s = await mutate(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const verb = req.params.verb;
    if (!['extend', 'remove', 'ban', 'unban'].includes(verb)) throw invalid(`unknown action "${verb.slice(0, 20)}"`);
    const membershipId = idParam(req.params.id, 'member id');
    const reason = (field(req.body, 'reason') ?? '').trim().slice(0, 500) || undefined;
    const daysText = (field(req.body, 'days') ?? '').trim();
    let days = 0;
    if (verb === 'extend') {
      days = /^[+-]?\d{1,9}$/.test(daysText) ? Number(daysText) : NaN;
      checkExtendDays(days);
    }
    const d = await memberDetail(a, s.actor, membershipId);
    if (field(req.body, 'confirm') !== 'yes') {
      const name = d.member.displayName ?? d.member.platformUserId;
      const question = t(`confirm_${verb}`, { name, group: d.group.title, days });
      const body = html`<div class="confirm panel">
        <h1>${t('confirm_title')}</h1>
        <p id="confirm-question">${question}</p>
        ${reason ? html`<p class="muted">${t('reason')}: ${reason}</p>` : ''}
        <div class="row">
          <a class="btn secondary" href="/console/members/${membershipId}">${t('cancel')}</a>
          ${postForm(`/console/members/${membershipId}/${verb}`, s.csrfToken, html`${hidden('confirm', 'yes')}${hidden('reason', reason ?? '')}${verb === 'extend' ? hidden('days', days) : ''}<button type="submit" id="confirm-button" class="${verb === 'ban' || verb === 'remove' ? 'danger' : ''}">${t('confirm_button')}</button>`)}
        </div>
      </div>`;
      return page(req, reply, s, 'members', t('confirm_title'), body);
    }
    const input = { actor: s.actor, membershipId, ...(reason ? { reason } : {}) };
    if (verb === 'extend') await extendMembership(a, { ...input, days });
    else if (verb === 'remove') await removeMember(a, input);
    else if (verb === 'ban') await banMember(a, input);
    else await unbanMember(a, input);
    return reply.redirect(`/console/members/${membershipId}?done=${verb}`, 303);
  });

  // ---- orders
  const orderRows = (locale: string, orders: Order[], refunded: Map<string, number>) => {
    const t = tr(locale);
    if (orders.length === 0) return html`<p class="muted">${t('none')}</p>`;
    return html`<table id="orders-table" class="stack">
      <thead>
        <tr>
          <th>${t('col_order')}</th>
          <th>${t('col_status')}</th>
          <th class="num">${t('col_amount')}</th>
          <th>${t('col_provider')}</th>
          <th>${t('col_created')}</th>
        </tr>
      </thead>
      <tbody>
        ${orders.map(
          (o) =>
            html`<tr>
              <td><a href="/console/orders/${o.id}">${o.id.slice(0, 8)}…</a></td>
              <td>${statusPill(o.status, t(`order_${o.status}`))}</td>
              <td class="num">
                ${money(locale, o.amountMinor, o.currency)}${refunded.get(o.id) ? html`<div class="muted">${t('refunded_part', { amount: money(locale, refunded.get(o.id)!, o.currency) })}</div>` : ''}
              </td>
              <td>${o.provider}</td>
              <td>${formatTime(locale, o.createdAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  };

  app.get('/console/orders', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const tz = a.settings.tzDisplay;
    const date = (name: string) => {
      const v = query(req, name);
      if (v === undefined) return undefined;
      const at = zonedDateStart(v, tz);
      if (at === null) throw invalid(`"${name}" must be a date like 2026-01-31 (got "${v.slice(0, 20)}")`);
      return at;
    };
    const f = {
      status: query(req, 'status'),
      provider: query(req, 'provider'),
      from: date('from'),
      to: ((v) => (v === undefined ? undefined : v + DAY_MS))(date('to')),
    };
    const afterRaw = query(req, 'after');
    const after =
      afterRaw && /^\d{1,15}:[A-Za-z0-9_-]{1,64}$/.test(afterRaw) ? { createdAt: Number(afterRaw.split(':')[0]), id: afterRaw.split(':')[1]! } : undefined;
    const rows = await listOrders(a, s.actor, { ...f, after, limit: 51 });
    const shown = rows.slice(0, 50);
    const refunded = await a.store.payments.refundedByOrder(shown.map((o) => o.id));
    const opt = (value: string, label: string, on: boolean) => html`<option value="${value}" ${on ? new Html('selected') : ''}>${label}</option>`;
    const qs = new URLSearchParams(
      ['status', 'provider', 'from', 'to'].flatMap((k) => {
        const v = query(req, k);
        return v === undefined ? [] : [[k, v]];
      }),
    );
    const last = shown[shown.length - 1];
    const body = html`<h1>${t('orders_title')}</h1>
      <div class="panel">
        <form class="filters" method="get" action="/console/orders" id="order-filters">
          <label
            >${t('col_status')}<select name="status">
              ${opt('', t('filter_all'), f.status === undefined)}${ORDER_STATUSES.map((st) => opt(st, t(`order_${st}`), st === f.status))}
            </select></label
          >
          <label
            >${t('col_provider')}<select name="provider">
              ${opt('', t('filter_all'), f.provider === undefined)}${[...a.providers.keys()].map((p) => opt(p, p, p === f.provider))}
            </select></label
          >
          <label>${t('filter_from')}<input type="date" name="from" value="${query(req, 'from') ?? ''}" /></label>
          <label>${t('filter_to')}<input type="date" name="to" value="${query(req, 'to') ?? ''}" /></label>
          <button type="submit">${t('filter_apply')}</button>
        </form>
      </div>
      <div class="panel">
        ${orderRows(locale, shown, refunded)}
        ${rows.length > 50 && last ? html`<div class="pager"><a class="btn secondary" href="/console/orders?${qs.toString()}${qs.size ? '&' : ''}after=${last.createdAt}:${last.id}">${t('next_page')}</a></div>` : ''}
      </div>`;
    return page(req, reply, s, 'orders', t('orders_title'), body);
  });

  app.get<{ Params: { id: string } }>('/console/orders/:id', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const d = await orderDetail(a, s.actor, req.params.id);
    const o = d.order;
    const done = query(req, 'done');
    const notice = done && ['refund', 'approve'].includes(done) ? html`<div class="notice" id="done">${t(`done_${done}`)}</div>` : '';
    const refundable = o.status === 'paid' || o.status === 'review';
    const body = html`${notice}
      <h1>${t('order_heading')} ${statusPill(o.status, t(`order_${o.status}`))}</h1>
      <div class="panel">
        <dl class="facts">
          <dt>${t('col_order')}</dt>
          <dd>${o.id}</dd>
          <dt>${t('col_amount')}</dt>
          <dd>
            ${money(locale, o.amountMinor, o.currency)}${d.refundedMinor ? html` · ${t('refunded_part', { amount: money(locale, d.refundedMinor, o.currency) })}` : ''}
          </dd>
          <dt>${t('col_plan')}</dt>
          <dd>${d.plan ? `#${d.plan.id} ${d.plan.name}` : '—'}</dd>
          <dt>${t('col_buyer')}</dt>
          <dd>${d.account ? `${d.account.displayName ?? d.account.platformUserId} (${d.account.platform} · ${d.account.platformUserId})` : '—'}</dd>
          <dt>${t('col_provider')}</dt>
          <dd>${o.provider}</dd>
          <dt>${t('col_created')}</dt>
          <dd>${formatTime(locale, o.createdAt)}</dd>
          ${
            o.paidAt === null
              ? ''
              : html`<dt>${t('col_paid')}</dt>
                  <dd>${formatTime(locale, o.paidAt)}</dd>`
          }
          ${
            o.reviewReason
              ? html`<dt>${t('col_held_reason')}</dt>
                  <dd>${o.reviewReason}</dd>`
              : ''
          }
          ${
            o.refundReason
              ? html`<dt>${t('col_refund_reason')}</dt>
                  <dd>${o.refundReason}</dd>`
              : ''
          }
        </dl>
      </div>
      ${
        refundable
          ? html`<h2>${t('actions_heading')}</h2>
              <div class="actions">
                ${o.status === 'review' ? postForm(`/console/orders/${o.id}/approve`, s.csrfToken, html`<strong>${t('action_approve')}</strong><label>${t('reason')}<input name="reason" maxlength="500" /></label><button type="submit" id="approve-button">${t('action_approve')}</button>`) : ''}
                ${postForm(`/console/orders/${o.id}/refund`, s.csrfToken, html`<strong>${t('action_refund')}</strong><label>${t('reason')}<input name="reason" maxlength="500" /></label><button type="submit" class="danger" id="refund-button">${t('action_refund')}</button>`)}
              </div>`
          : ''
      }
      <h2>${t('ledger_heading')}</h2>
      <div class="panel">
        ${
          d.payments.length === 0
            ? html`<p class="muted">${t('none')}</p>`
            : html`<table>
                <thead>
                  <tr>
                    <th>${t('col_kind')}</th>
                    <th class="num">${t('col_amount')}</th>
                    <th>${t('col_when')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${d.payments.map(
                    (p) =>
                      html`<tr>
                        <td>${t(`ledger_${p.kind}`)}</td>
                        <td class="num">${money(locale, p.amountMinor, p.currency)}</td>
                        <td>${formatTime(locale, p.occurredAt)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
        }
      </div>
      <h2>${t('audit_heading')}</h2>
      <div class="panel">${auditRows(locale, d.audit)}</div>`;
    return page(req, reply, s, 'orders', t('order_heading'), body);
  });

  /** Refund or approve an order, with its confirmation step. A second "Confirm" finds the refund under way: one refund. */
  app.post<{ Params: { id: string; verb: string } }>('/console/orders/:id/:verb', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const verb = req.params.verb;
    if (verb !== 'refund' && verb !== 'approve') throw invalid(`unknown action "${verb.slice(0, 20)}"`);
    const d = await orderDetail(a, s.actor, req.params.id);
    const o = d.order;
    const reason = (field(req.body, 'reason') ?? '').trim().slice(0, 500) || undefined;
    const back = field(req.body, 'back') === 'review' ? '/console/review' : `/console/orders/${o.id}`;
    if (field(req.body, 'confirm') !== 'yes') {
      const question = t(`confirm_${verb}_order`, { amount: money(localeOf(req), o.amountMinor - d.refundedMinor, o.currency), id: o.id.slice(0, 8) });
      const body = html`<div class="confirm panel">
        <h1>${t('confirm_title')}</h1>
        <p id="confirm-question">${question}</p>
        ${reason ? html`<p class="muted">${t('reason')}: ${reason}</p>` : ''}
        <div class="row">
          <a class="btn secondary" href="${back}">${t('cancel')}</a>
          ${postForm(`/console/orders/${o.id}/${verb}`, s.csrfToken, html`${hidden('confirm', 'yes')}${hidden('reason', reason ?? '')}${hidden('back', field(req.body, 'back') ?? '')}<button type="submit" id="confirm-button" class="${verb === 'refund' ? 'danger' : ''}">${t('confirm_button')}</button>`)}
        </div>
      </div>`;
      return page(req, reply, s, 'orders', t('confirm_title'), body);
    }
    const input = { actor: s.actor, orderId: o.id, ...(reason ? { reason } : {}) };
    if (verb === 'refund') await requestRefund(a, input);
    else await approveOrder(a, input);
    return reply.redirect(back === '/console/review' ? `/console/review?done=${verb}` : `${back}?done=${verb}`, 303);
  });

  // ---- review queue
  app.get('/console/review', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const q = await reviewQueue(a, s.actor);
    const done = query(req, 'done');
    const notice =
      done && ['refund', 'approve', 'app_approve', 'app_reject'].includes(done) ? html`<div class="notice" id="done">${t(`done_${done}`)}</div>` : '';
    const orderButtons = (o: Order) =>
      html`<div class="row">
        ${postForm(`/console/orders/${o.id}/approve`, s.csrfToken, html`${hidden('back', 'review')}<button type="submit" data-approve="${o.id}">${t('action_approve')}</button>`)}
        ${postForm(`/console/orders/${o.id}/refund`, s.csrfToken, html`${hidden('back', 'review')}<button type="submit" class="secondary" data-refund="${o.id}">${t('action_refund')}</button>`)}
      </div>`;
    const body = html`${notice}
      <h1>${t('review_title')}</h1>
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
    if (field(req.body, 'confirm') !== 'yes') {
      const question = t(`confirm_app_${verb}`, { id: applicationId });
      const body = html`<div class="confirm panel">
        <h1>${t('confirm_title')}</h1>
        <p id="confirm-question">${question}</p>
        ${reason ? html`<p class="muted">${t('reason')}: ${reason}</p>` : ''}
        <div class="row">
          <a class="btn secondary" href="/console/review">${t('cancel')}</a>
          ${postForm(`/console/applications/${applicationId}/${verb}`, s.csrfToken, html`${hidden('confirm', 'yes')}${hidden('reason', reason)}<button type="submit" id="confirm-button">${t('confirm_button')}</button>`)}
        </div>
      </div>`;
      return page(req, reply, s, 'review', t('confirm_title'), body);
    }
    if (verb === 'approve') await approveApplication(a, { actor: s.actor, applicationId, ...(reason ? { reason } : {}) });
    else await rejectApplication(a, { actor: s.actor, applicationId, reason });
    return reply.redirect(`/console/review?done=app_${verb}`, 303);
  });

  // ---- plans (issue 15 part 5, first half): the plans of the session's groups with their sales; create, disable
  app.get('/console/plans', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    const [rows, groups] = await Promise.all([consolePlans(a, s.actor), consoleGroups(a, s.actor)]);
    const done = query(req, 'done');
    const notice = done && ['plan_add', 'plan_disable'].includes(done) ? html`<div class="notice" id="done">${t(`done_${done}`)}</div>` : '';
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
    if (field(req.body, 'confirm') !== 'yes') {
      const body = html`<div class="confirm panel">
        <h1>${t('confirm_title')}</h1>
        <p id="confirm-question">${t('confirm_plan_disable', { name: row.plan.name })}</p>
        <div class="row">
          <a class="btn secondary" href="/console/plans">${t('cancel')}</a>
          ${postForm(
            `/console/plans/${planId}/disable`,
            s.csrfToken,
            html`${hidden('confirm', 'yes')}<button type="submit" id="confirm-button" class="danger">${t('confirm_button')}</button>`,
          )}
        </div>
      </div>`;
      return page(req, reply, s, 'plans', t('confirm_title'), body);
    }
    await disablePlan(a, { actor: s.actor, planId });
    return reply.redirect('/console/plans?done=plan_disable', 303);
  });

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
    const done = query(req, 'done');
    const notice = done && ['coupon_add', 'coupon_disable'].includes(done) ? html`<div class="notice" id="done">${t(`done_${done}`)}</div>` : '';
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
    const rawPlans = (req.body as Body | undefined)?.['plan'];
    const planIds = (Array.isArray(rawPlans) ? rawPlans : rawPlans === undefined ? [] : [rawPlans]).map((p) => idParam(String(p).trim(), 'plan'));
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
    if (field(req.body, 'confirm') !== 'yes') {
      const body = html`<div class="confirm panel">
        <h1>${t('confirm_title')}</h1>
        <p id="confirm-question">${t('confirm_coupon_disable', { code: coupon.code })}</p>
        <div class="row">
          <a class="btn secondary" href="/console/growth">${t('cancel')}</a>
          ${postForm(
            `/console/coupons/${encodeURIComponent(coupon.code)}/disable`,
            s.csrfToken,
            html`${hidden('confirm', 'yes')}<button type="submit" id="confirm-button" class="danger">${t('confirm_button')}</button>`,
          )}
        </div>
      </div>`;
      return page(req, reply, s, 'growth', t('confirm_title'), body);
    }
    await disableCoupon(a, { actor: s.actor, code: coupon.code });
    return reply.redirect('/console/growth?done=coupon_disable', 303);
  });

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
