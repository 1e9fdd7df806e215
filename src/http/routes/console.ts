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
//
// This file is the plugin: cookies, forms, the security headers, the cross-site guard and the one error
// handler. Each page's routes live in src/http/console/pages/, over what they share (console/kit.ts).
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../domain/errors.ts';
import { consoleAssets } from '../console/assets.ts';
import { html } from '../console/html.ts';
import { createConsoleKit, CsrfRefused, SignedOut } from '../console/kit.ts';
import { auditPages } from '../console/pages/audit.ts';
import { broadcastPages } from '../console/pages/broadcast.ts';
import { groupPages } from '../console/pages/groups.ts';
import { growthPages } from '../console/pages/growth.ts';
import { memberPages } from '../console/pages/members.ts';
import { orderPages } from '../console/pages/orders.ts';
import { overviewPages } from '../console/pages/overview.ts';
import { planPages } from '../console/pages/plans.ts';
import { reviewPages } from '../console/pages/review.ts';
import { reviewRulePages } from '../console/pages/review-rules.ts';
import { signInPages } from '../console/pages/sign-in.ts';
import { systemPages } from '../console/pages/system.ts';
import type { HttpDeps } from '../deps.ts';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function consoleRoutes(app: FastifyInstance, deps: HttpDeps) {
  const a = deps.app;
  const k = createConsoleKit(a);
  const { localeOf, tr, bare, page, sessionOf } = k;
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

  // Errors on console pages are pages: a clear line and a way back, never JSON or a stack.
  app.setErrorHandler(async (err, req, reply) => {
    const locale = localeOf(req);
    const t = tr(locale);
    if (err instanceof SignedOut) {
      if (req.method === 'GET') return reply.redirect('/console', 303);
      return bare(req, reply, 401, t('signed_out_title'), k.signInHelp(locale, t('signed_out')));
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

  // ---- assets (same origin; long-cached: they change only with the release)
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    const asset = consoleAssets().get(req.params.name);
    if (!asset) return reply.status(404).type('text/plain').send('not found');
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
  });

  signInPages(app, k);
  overviewPages(app, k);
  memberPages(app, k);
  orderPages(app, k);
  reviewPages(app, k);
  reviewRulePages(app, k);
  planPages(app, k);
  growthPages(app, k);
  groupPages(app, k, deps);
  auditPages(app, k);
  broadcastPages(app, k);
  systemPages(app, k, deps);
}
