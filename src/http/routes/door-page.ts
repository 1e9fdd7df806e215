// The door's Mini App (issue 18 part 5): the checkout a Telegram guard bot opens for someone asking to join a
// `door` group. Telegram appends its signed launch data to the URL's fragment (`#tgWebAppData=…`, also
// `Telegram.WebApp.initData`; core.telegram.org/bots/webapps "Initializing Mini Apps"), which a server never
// sees: GET serves a page that posts it back (POST keeps it out of URLs and access logs). POST checks it
// (app/mini-app.ts) and shows the group's plans and rails, Stars included; choosing one POSTs to /checkout,
// which checks it again, creates the order for that Telegram user and sends them to the order's pay page.
// Refused launch data gets a page saying why, and no order.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { doorCheckout, doorPlans } from '../../app/door.ts';
import { checkInitData } from '../../app/mini-app.ts';
import { resolveLocale } from '../../conversation/catalog.ts';
import { formatMoneyIn } from '../../conversation/format.ts';
import { DomainError } from '../../domain/errors.ts';
import type { HttpDeps } from '../deps.ts';
import { acceptedLocale, esc, page } from './pay-page.ts';

const GROUP_ID = /^[0-9]{1,12}$/;

export async function doorRoutes(app: FastifyInstance, deps: HttpDeps) {
  const { messages, settings } = deps.app;
  const t = (locale: string, key: string, params: Record<string, string | number> = {}) => messages.render(locale, { key, params });
  const localeOf = (req: FastifyRequest) => acceptedLocale(req.headers['accept-language']) ?? resolveLocale(null, settings.defaultLocale);

  // Launch data is a few hundred bytes; 8 KiB leaves room and refuses anything silly.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8192 }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(String(body)).entries())),
  );

  const send = (reply: FastifyReply, status: number, locale: string, title: string, body: string, script = '') =>
    reply
      .status(status)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(page(locale, title, body, script));

  const refused = (reply: FastifyReply, locale: string, status: number, key: string) =>
    send(reply, status, locale, t(locale, key), `<div class="status not_found" data-testid="refused" data-reason="${esc(key)}">${esc(t(locale, key))}</div>`);

  app.get<{ Params: { groupId: string } }>('/door/:groupId', async (req, reply) => {
    const locale = localeOf(req);
    if (!GROUP_ID.test(req.params.groupId)) return refused(reply, locale, 404, 'door.not_found');
    const path = `/door/${req.params.groupId}`;
    const script = `
<script src="https://telegram.org/js/telegram-web-app.js"></script>
<script>
(function(){var d=(window.Telegram&&Telegram.WebApp&&Telegram.WebApp.initData)||new URLSearchParams(location.hash.slice(1)).get('tgWebAppData')||'';
var f=document.getElementById('door');f.elements.initData.value=d;f.submit();})();
</script>`;
    return send(
      reply,
      200,
      locale,
      'Gatekeeper',
      `<form id="door" method="post" action="${esc(path)}"><input type="hidden" name="initData" value=""><noscript><button type="submit">…</button></noscript></form>`,
      script,
    );
  });

  const bodyOf = (req: FastifyRequest) => (req.body && typeof req.body === 'object' ? (req.body as Record<string, string>) : {});

  app.post<{ Params: { groupId: string } }>('/door/:groupId', async (req, reply) => {
    const locale = localeOf(req);
    if (!GROUP_ID.test(req.params.groupId)) return refused(reply, locale, 404, 'door.not_found');
    const initData = bodyOf(req).initData;
    const token = deps.telegramBotToken;
    let door;
    try {
      door = await doorPlans(deps.app, Number(req.params.groupId));
    } catch (err) {
      if (err instanceof DomainError) return refused(reply, locale, 404, 'door.not_found');
      throw err;
    }
    const check = token ? checkInitData(initData, token, deps.app.clock.now()) : ({ ok: false, problem: 'bad_hash' } as const);
    if (!check.ok) {
      req.log.warn({ groupId: door.group.id, problem: check.problem }, 'door: Mini App launch data refused');
      return refused(reply, locale, 403, `door.refused.${check.problem}`);
    }
    const userLocale = acceptedLocale(req.headers['accept-language']) ?? resolveLocale(check.user.languageCode, settings.defaultLocale);
    const title = t(userLocale, 'door.title', { group: door.group.title });
    const forms = door.plans.flatMap(({ plan, offers }) =>
      offers.map(
        (o) => `<form method="post" action="/door/${door.group.id}/checkout">
<input type="hidden" name="initData" value="${esc(String(initData))}"><input type="hidden" name="planId" value="${plan.id}"><input type="hidden" name="provider" value="${esc(o.provider.name)}">
<button type="submit" data-testid="offer" data-plan="${plan.id}" data-provider="${esc(o.provider.name)}">${esc(
          t(userLocale, 'door.pay_with', { plan: plan.name, amount: formatMoneyIn(userLocale, o.amountMinor, o.currency), provider: o.provider.name }),
        )}</button></form>`,
      ),
    );
    const body = `<h1>${esc(title)}</h1>
<p class="next">${esc(t(userLocale, forms.length > 0 ? 'door.choose' : 'door.no_plans'))}</p>
${forms.join('\n')}`;
    return send(reply, 200, userLocale, title, body);
  });

  app.post<{ Params: { groupId: string } }>('/door/:groupId/checkout', async (req, reply) => {
    const locale = localeOf(req);
    if (!GROUP_ID.test(req.params.groupId)) return refused(reply, locale, 404, 'door.not_found');
    const b = bodyOf(req);
    try {
      const r = await doorCheckout(deps.app, {
        groupId: Number(req.params.groupId),
        initData: b.initData,
        botToken: deps.telegramBotToken ?? '',
        planId: Number(b.planId),
        provider: String(b.provider ?? ''),
      });
      if (!r.ok) {
        req.log.warn({ groupId: req.params.groupId, problem: r.problem }, 'door: Mini App launch data refused');
        return refused(reply, locale, 403, `door.refused.${r.problem}`);
      }
      const { order, checkout } = r.result;
      // Stars inside the Mini App: Telegram.WebApp.openInvoice(url, callback) opens the invoice over the Mini App
      // ("Bot API 6.1+ … opens an invoice using the link url"; the callback gets paid|cancelled|failed|pending;
      // core.telegram.org/bots/webapps#initializing-mini-apps), so the stranger never leaves the join screen. A
      // recurring plan's link is a subscription invoice, which openInvoice shows the same way. Without the SDK
      // (another client) the button is the invoice link itself.
      if (order.provider === 'stars' && /^https:\/\/t\.me\//.test(checkout.payUrl)) {
        const payPage = `/pay/${order.id}`;
        const json = (v: string) => JSON.stringify(v).replace(/</g, '\\u003c');
        const amount = formatMoneyIn(locale, order.amountMinor, order.currency);
        const script = `
<script src="https://telegram.org/js/telegram-web-app.js"></script>
<script>
(function(){var link=${json(checkout.payUrl)},after=${json(payPage)};
function open(){var w=window.Telegram&&Telegram.WebApp;if(w&&w.openInvoice){w.openInvoice(link,function(s){if(s==='paid'||s==='pending')location.href=after;});return true;}return false;}
document.getElementById('stars').addEventListener('click',function(e){if(open())e.preventDefault();});open();})();
</script>`;
        const body = `<p><a id="stars" class="button" data-testid="stars-invoice" href="${esc(checkout.payUrl)}">${esc(t(locale, 'door.stars_pay', { amount }))}</a></p>
<p><a href="${esc(payPage)}">${esc(t(locale, 'door.stars_after'))}</a></p>`;
        return send(reply, 200, locale, t(locale, 'door.stars_pay', { amount }), body, script);
      }
      return reply.header('cache-control', 'no-store').redirect(`/pay/${order.id}`, 303);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found') return refused(reply, locale, 404, 'door.not_found');
      if (err instanceof DomainError) return reply.status(400).send({ error: err.code, message: err.message });
      throw err;
    }
  });
}
