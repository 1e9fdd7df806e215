// What every console page shares: the session and CSRF checks, the language, the page frame and the
// confirmation step. Built once per app by routes/console.ts and handed to each page's routes
// (src/http/console/pages/*.ts), so a page file holds only its own routes and HTML.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppDeps } from '../../app/deps.ts';
import { checkCsrf, type ConsoleSession, newPressKey, pressOnce, sessionFromToken } from '../../app/console-auth.ts';
import { badgeFigures } from '../../app/stats.ts';
import { resolveLocale } from '../../conversation/catalog.ts';
import { createDateTimeFormatter, formatMoneyIn } from '../../conversation/format.ts';
import { invalid } from '../../domain/errors.ts';
import { acceptedLocale } from '../routes/pay-page.ts';
import { html, type Html, hidden, layout, type Nav, postForm } from './html.ts';

export const SESSION_COOKIE = 'gk_console';
export const LANG_COOKIE = 'gk_lang';

/** A request without a live session: a page is sent to the sign-in page, a POST refused. */
export class SignedOut extends Error {}
/** A POST without the session's CSRF token. */
export class CsrfRefused extends Error {}

export type Req = FastifyRequest;
type Body = Record<string, unknown>;

/** A form field as text (undefined when absent or not a single string). */
export const field = (body: unknown, name: string): string | undefined => {
  const v = (body as Body | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
};
/** A form field posted once or several times (a multi-select): always a list. */
export const fields = (body: unknown, name: string): string[] => {
  const v = (body as Body | undefined)?.[name];
  return Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];
};
/** A query parameter, trimmed; undefined when absent or blank. */
export const query = (req: Req, name: string): string | undefined => {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};
/** A numeric id from a URL or a form, or a clear 400. */
export const idParam = (raw: string, what: string) => {
  if (!/^\d{1,9}$/.test(raw)) throw invalid(`${what} must be a number`);
  return Number(raw);
};
/** The owner's optional reason for an action, trimmed and bounded. */
export const reasonOf = (body: unknown): string | undefined => (field(body, 'reason') ?? '').trim().slice(0, 500) || undefined;

export interface ConfirmStep {
  active: Nav['active'];
  question: string;
  /** Shown under the question when given. */
  reason?: string | undefined;
  /** More to read before confirming (a broadcast's preview), shown under the question. */
  detail?: Html | undefined;
  /** Where "Cancel" goes. */
  cancelHref: string;
  /** The form's action: the same POST again, with confirm=yes and these fields. */
  action: string;
  fields?: Record<string, string | number>;
  danger?: boolean;
}

export type ConsoleKit = ReturnType<typeof createConsoleKit>;

export function createConsoleKit(a: AppDeps) {
  const secure = a.settings.publicUrl.startsWith('https:');
  const sessionDays = a.settings.consoleSessionDays ?? 7;
  const formatTime = createDateTimeFormatter(a.settings.tzDisplay);

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
  const clearSessionCookie = (reply: FastifyReply) => reply.clearCookie(SESSION_COOKIE, { path: '/console', httpOnly: true, sameSite: 'strict', secure });

  async function nav(req: Req, s: ConsoleSession, locale: string, active: Nav['active']): Promise<Nav> {
    const t = tr(locale);
    const badges = await badgeFigures(a, s.actor);
    const other = locale === 'zh-CN' ? 'en' : 'zh-CN';
    // The switch reloads this page in the other language; after a POST (an error or a confirmation) there is no
    // page to reload by GET, so it goes to the overview.
    const path = req.method === 'GET' ? req.url.split('?')[0]! : '/console';
    return {
      active,
      labels: {
        overview: t('nav_overview'),
        members: t('nav_members'),
        orders: t('nav_orders'),
        review: t('nav_review'),
        plans: t('nav_plans'),
        groups: t('nav_groups'),
        growth: t('nav_growth'),
        broadcast: t('nav_broadcast'),
        audit: t('nav_audit'),
        system: t('nav_system'),
        signOut: t('sign_out'),
        language: '',
      },
      reviewQueue: badges.reviewQueue,
      who: s.accountId === null ? t('who_operator') : t('who_owner', { id: s.accountId }),
      csrf: s.csrfToken,
      otherLang: { href: `${path}?lang=${other}`, label: other === 'en' ? 'English' : '中文' },
    };
  }

  /** A signed-in page: the frame with the navigation, in the request's language. */
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
    // The cookie lives as long as the session may stay idle, counted from this use (the session itself is
    // kept alive in the database by sessionFromToken): a console used daily is not signed out after 7 days.
    const token = req.cookies[SESSION_COOKIE];
    if (token) setSessionCookie(reply, token);
    return reply
      .status(opts.status ?? 200)
      .type('text/html; charset=utf-8')
      .send(layout({ locale, title, body, nav: n, ...(opts.chart ? { chart: true } : {}) }));
  }

  /** A page without navigation (sign-in, signed out, errors before a session). */
  function bare(req: Req, reply: FastifyReply, status: number, title: string, body: Html) {
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(layout({ locale: localeOf(req), title, body }));
  }

  /** The done-notice after an action's redirect (?done=<key>), for the keys this page knows. */
  function doneNotice(req: Req, keys: readonly string[]): Html | string {
    const done = query(req, 'done');
    return done && keys.includes(done) ? html`<div class="notice" id="done">${tr(localeOf(req))(`done_${done}`)}</div>` : '';
  }

  /**
   * The confirmation step every console action goes through: the question, the reason when given, "Cancel"
   * and a "Confirm" that posts the same action again with confirm=yes. Nothing changes until it is pressed.
   */
  function confirmPage(req: Req, reply: FastifyReply, s: ConsoleSession, c: ConfirmStep) {
    const t = tr(localeOf(req));
    // Every confirmation carries a fresh one-time key; actions that must not run twice check it (`once`).
    const extra = [...Object.entries(c.fields ?? {}).map(([k, v]) => hidden(k, v)), hidden('_press', newPressKey())];
    const body = html`<div class="confirm panel">
      <h1>${t('confirm_title')}</h1>
      <p id="confirm-question">${c.question}</p>
      ${c.reason ? html`<p class="muted">${t('reason')}: ${c.reason}</p>` : ''} ${c.detail ?? ''}
      <div class="row">
        <a class="btn secondary" href="${c.cancelHref}">${t('cancel')}</a>
        ${postForm(c.action, s.csrfToken, html`${hidden('confirm', 'yes')}${extra}<button type="submit" id="confirm-button" class="${c.danger ? 'danger' : ''}">${t('confirm_button')}</button>`)}
      </div>
    </div>`;
    return page(req, reply, s, c.active, t('confirm_title'), body);
  }
  const confirmed = (req: Req) => field(req.body, 'confirm') === 'yes';
  /** A confirmed action carried out once per confirmation page (app/console-auth.ts pressOnce). */
  const once = <T>(req: Req, s: ConsoleSession, act: () => Promise<T>) => pressOnce(a, s, field(req.body, '_press'), act);

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

  return {
    a,
    secure,
    formatTime,
    localeOf,
    tr,
    money,
    sessionOf,
    need,
    mutate,
    setSessionCookie,
    clearSessionCookie,
    page,
    bare,
    doneNotice,
    confirmPage,
    confirmed,
    once,
    signInHelp,
  };
}
