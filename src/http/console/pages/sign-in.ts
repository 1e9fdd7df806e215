// Sign-in by a one-time link and sign-out (issue 15 part 1; the rules: app/console-auth.ts).
import type { FastifyInstance } from 'fastify';
import { redeemLoginLink, LoginRefused, signOut } from '../../../app/console-auth.ts';
import { hidden, html } from '../html.ts';
import { type ConsoleKit, field, query, SESSION_COOKIE } from '../kit.ts';

export function signInPages(app: FastifyInstance, k: ConsoleKit) {
  const { a, localeOf, tr, mutate, bare, signInHelp, setSessionCookie, clearSessionCookie } = k;
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
    clearSessionCookie(reply);
    const t = tr(localeOf(req));
    return bare(req, reply, 200, t('signed_out_title'), signInHelp(localeOf(req), t('signed_out_done')));
  });
}
