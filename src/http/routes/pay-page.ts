// The public checkout page for one order: plan, amount, QR and live status. The order id in the URL is
// 128 random bits, so the page shows nothing personal and needs no login. With the dev provider, its
// "pay" button sends a signed notification through the same verifier and handler as /webhooks/dev.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { planRefundWindow } from '../../app/refund-window.ts';
import { resolveLocale } from '../../conversation/catalog.ts';
import { formatMoneyIn } from '../../conversation/format.ts';
import type { HttpDeps } from '../deps.ts';
import { FAVICON_DATA_URL, FAVICON_SVG } from '../favicon.ts';
import { processWebhook, STORAGE_UNAVAILABLE } from './webhooks.ts';
import { chooseRail, consumeOauthState, issueOauthState, startPhonePay } from '../../app/phone-pay.ts';
import type { Order } from '../../app/model.ts';
import type { PhonePay, PhoneRail } from '../../app/ports.ts';
import { DomainError, ProviderRejectedError, ProviderUnreachableError } from '../../domain/errors.ts';
import { applyCouponToOrder } from '../../app/coupons.ts';
import { CouponRefusal } from '../../domain/coupon.ts';

const ORDER_ID = /^[A-Za-z0-9_-]{22}$/;

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The first language in Accept-Language we have a catalogue for (zh…, en…), else null. */
export function acceptedLocale(header: string | undefined): string | null {
  for (const part of (header ?? '').split(',')) {
    const tag = part.split(';')[0]!.trim().toLowerCase();
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return null;
}

const CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif}
body{margin:0;background:#f3f5f8;color:#1d2433}
main{max-width:420px;margin:0 auto;padding:24px 16px}
.card{background:#fff;border-radius:16px;box-shadow:0 2px 12px rgba(20,30,60,.08);padding:24px;text-align:center}
.brand{display:flex;align-items:center;justify-content:center;gap:8px;margin:0 0 16px;color:#667085;font-weight:600;font-size:.875rem}
.brand img{width:24px;height:24px}
h1{font-size:1.25rem;margin:0 0 4px}
.amount{font-size:2rem;font-weight:700;margin:8px 0 16px}
.qr{width:240px;height:240px;max-width:80vw;max-height:80vw;image-rendering:pixelated}
.status{margin:16px 0 0;padding:10px 12px;border-radius:10px;background:#eef2ff;font-weight:600}
.status.paid,.status.review{background:#e6f7ee;color:#136c3a}.status.expired,.status.refunded,.status.not_found{background:#fdeeee;color:#8a1f1f}
.next{margin:12px 0 0;line-height:1.5}
.muted{color:#667085;font-size:.875rem}
button,a.btn{display:inline-block;margin-top:16px;padding:12px 20px;border:0;border-radius:10px;background:#2f6fed;color:#fff;font-size:1rem;text-decoration:none;cursor:pointer}
a.link{color:#2f6fed}
`;

export function page(locale: string, title: string, body: string, script = ''): string {
  return `<!doctype html>
<html lang="${esc(locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title>
<link rel="icon" href="${FAVICON_DATA_URL}">
<style>${CSS}</style></head>
<body><main><div class="card">
<div class="brand"><img src="${FAVICON_DATA_URL}" alt="" width="24" height="24">Gatekeeper</div>
${body}
</div></main>${script}</body></html>`;
}

export async function payPageRoutes(app: FastifyInstance, deps: HttpDeps) {
  const { store, messages, settings } = deps.app;

  const load = async (id: string) => (ORDER_ID.test(id) ? store.orders.get(id) : null);
  const t = (locale: string, key: string, params: Record<string, string | number> = {}) => messages.render(locale, { key, params });
  const notFound = (reply: FastifyReply, locale: string) =>
    reply
      .status(404)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(
        page(
          locale,
          t(locale, 'pay.not_found'),
          `<h1>${esc(t(locale, 'pay.not_found'))}</h1>
<div class="status not_found" data-testid="status" data-status="not_found">${esc(t(locale, 'pay.not_found_hint'))}</div>`,
        ),
      );

  // The dev "pay" button is a plain HTML form post; its (empty) body carries nothing we read.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, body, done) => done(null, body));

  app.get('/favicon.ico', async (_req, reply) => reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(FAVICON_SVG));

  // Each state says only what is true in it: a QR, its link and "open until" while the order can be paid;
  // what happens next once it is paid; no invitation to pay once it expired (a late provider payment is
  // still honoured, see confirm-payment, but this page does not ask for one).
  //
  // Issue 21: while the order can be paid, the page picks the rail by where it is opened (app/phone-pay.ts
  // chooseRail): JSAPI inside WeChat, H5 / Alipay WAP in a phone browser, the "open in your browser" hint for
  // an Alipay order inside WeChat, else the QR. `?via=qr` (the always-visible "pay on another device" switch)
  // shows the QR whatever the device.
  interface View {
    /** One sentence above the QR saying why the phone rail is not offered (a failed sign-in, a provider refusal). */
    fallback?: string;
    status?: number;
    /** JSAPI's signed arguments, when the page should start WeChat's cashier. */
    jsapi?: Extract<PhonePay, { kind: 'jsapi' }>['params'];
    /** A coupon the form sent that cannot be used: why, in the reader's language. */
    couponError?: string;
  }

  const render = async (req: FastifyRequest, reply: FastifyReply, order: Order, view: View = {}) => {
    const accepted = acceptedLocale(req.headers['accept-language']);
    const account = await store.accounts.get(order.accountId);
    const locale = accepted ?? resolveLocale(account?.locale ?? null, settings.defaultLocale);
    const plan = await store.plans.get(order.planId);
    const pending = order.status === 'pending';
    const discounted = (order.discountMinor ?? 0) > 0 && order.listPriceMinor !== null && order.listPriceMinor !== undefined;
    const coupon = order.couponId ? await store.coupons.get(order.couponId) : null;
    const isDev = order.provider === 'dev' && deps.devProvider !== undefined;
    const link = order.checkoutUrl && order.checkoutUrl !== `${settings.publicUrl}/pay/${order.id}` ? order.checkoutUrl : null;
    const statusText = t(locale, order.status === 'paid' ? 'pay.paid_done' : `pay.status.${order.status}`);
    const next = order.status === 'paid' ? t(locale, 'pay.next_paid') : null;
    const title = t(locale, 'pay.title', { plan: plan?.name ?? '' });
    const refundHours = plan ? await planRefundWindow(store, plan) : 0;
    const refundPolicy =
      refundHours > 0 ? `\n<p class="muted" data-testid="refund-policy">${esc(t(locale, 'pay.refund_policy', { hours: refundHours }))}</p>` : '';
    const ua = String(req.headers['user-agent'] ?? '');
    const forceQr = (req.query as { via?: string } | undefined)?.via === 'qr' || view.fallback !== undefined;
    const choice = pending && !forceQr ? chooseRail(ua, deps.app.providers.get(order.provider)) : ({ kind: 'qr' } as const);
    const qrBlock = `${order.checkoutQr ? `<img class="qr" alt="QR" src="/pay/${order.id}/qr.png" width="240" height="240" data-testid="qr">` : ''}
<p class="muted">${esc(t(locale, link ? 'pay.scan' : 'pay.scan_only'))}</p>
${link ? `<p><a class="link" href="${esc(link)}" data-testid="pay-link">${esc(t(locale, 'pay.open_link'))}</a></p>` : ''}`;
    const hereKey = order.provider === 'alipay' ? 'pay.here_alipay' : 'pay.here_wechat';
    const qrSwitch = `<p><a class="link" href="/pay/${order.id}?via=qr" data-testid="show-qr">${esc(t(locale, 'pay.show_qr'))}</a></p>`;
    let payBlock: string;
    if (choice.kind === 'phone' && choice.rail === 'jsapi' && view.jsapi) {
      payBlock = `<button type="button" id="jsapi-pay" data-testid="pay-here" data-rail="jsapi">${esc(t(locale, hereKey))}</button>
<p class="muted" id="jsapi-note" data-testid="jsapi-note" hidden>${esc(t(locale, 'pay.jsapi_retry'))} <a class="link" href="/pay/${order.id}?signin=1" data-testid="signin-again">${esc(t(locale, 'pay.signin_again'))}</a></p>
${qrSwitch}`;
    } else if (choice.kind === 'phone') {
      payBlock = `<a class="btn" href="/pay/${order.id}/${choice.rail === 'h5' ? 'h5' : 'alipay-wap'}" data-testid="pay-here" data-rail="${choice.rail}">${esc(t(locale, hereKey))}</a>
<p class="muted">${esc(t(locale, 'pay.here_note'))}</p>
${qrSwitch}`;
    } else if (choice.kind === 'open_in_browser') {
      payBlock = `<p class="next" data-testid="open-in-browser">${esc(t(locale, 'pay.open_in_browser'))}</p>
${qrBlock}`;
    } else {
      payBlock = `${view.fallback ? `<p class="next" data-testid="fallback">${esc(view.fallback)}</p>` : ''}${qrBlock}`;
    }
    const body = `<h1>${esc(title)}</h1>
<div class="muted">${esc(t(locale, 'pay.amount'))}</div>
<div class="amount" data-testid="amount">${
      // Bought with a coupon (issue 16): the list price struck through, then what is paid.
      discounted ? `<s class="muted" data-testid="list-price">${esc(formatMoneyIn(locale, order.listPriceMinor!, order.currency))}</s> ` : ''
    }${esc(formatMoneyIn(locale, order.amountMinor, order.currency))}</div>${
      discounted && coupon ? `\n<p class="muted" data-testid="coupon">${esc(t(locale, 'pay.coupon_applied', { code: coupon.code }))}</p>` : ''
    }${refundPolicy}
${
  pending
    ? `${payBlock}
<p class="muted" data-testid="open-until">${esc(t(locale, 'pay.expires', { expiresAt: order.expiresAt }))}</p>
${
  order.couponId === null || order.couponId === undefined
    ? `<form method="post" action="/pay/${order.id}/coupon" data-testid="coupon-form"><input name="code" maxlength="32" autocomplete="off" placeholder="${esc(t(locale, 'pay.coupon_placeholder'))}"> <button type="submit">${esc(t(locale, 'pay.coupon_apply'))}</button></form>`
    : ''
}${view.couponError ? `<p class="next" data-testid="coupon-error">${esc(view.couponError)}</p>` : ''}
${isDev ? `<form method="post" action="/pay/${order.id}/dev-pay"><button type="submit" data-testid="dev-pay">${esc(t(locale, 'pay.dev_button'))}</button></form><p class="muted">${esc(t(locale, 'pay.dev_note'))}</p>` : ''}`
    : ''
}
<div id="status" class="status ${esc(order.status)}" data-testid="status" data-status="${esc(order.status)}">${esc(statusText)}</div>
${next ? `<p class="next" data-testid="next">${esc(next)}</p>` : ''}`;
    // While the order can still change by itself (paid elsewhere, timed out), the page reloads when it does.
    const jsapiScript =
      choice.kind === 'phone' && choice.rail === 'jsapi' && view.jsapi
        ? `
function jsapiPay(){WeixinJSBridge.invoke('getBrandWCPayRequest',${JSON.stringify(view.jsapi).replace(/</g, '\\u003c')},function(res){if(res&&res.err_msg==='get_brand_wcpay_request:ok'){poll();}else{document.getElementById('jsapi-note').hidden=false;}});}
document.getElementById('jsapi-pay').addEventListener('click',function(){if(typeof WeixinJSBridge!=='undefined')jsapiPay();});
if(typeof WeixinJSBridge==='undefined'){document.addEventListener('WeixinJSBridgeReady',jsapiPay,false);}else{jsapiPay();}`
        : '';
    const script =
      order.status === 'pending'
        ? `
<script>
async function poll(){try{const r=await fetch('/pay/${order.id}/status',{cache:'no-store'});if(r.ok){const j=await r.json();if(j.status!=='pending'){location.reload();return;}}}catch(e){}setTimeout(poll,2000);}
setTimeout(poll,2000);${jsapiScript}
</script>`
        : '';
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
    return reply
      .status(view.status ?? 200)
      .type('text/html; charset=utf-8')
      .send(page(locale, title, body, script));
  };

  const localeOf = (req: FastifyRequest) => acceptedLocale(req.headers['accept-language']) ?? resolveLocale(null, settings.defaultLocale);
  const oauthRedirect = (orderId: string) => `${settings.publicUrl}/pay/${orderId}/wechat-oauth`;
  const fallbackText = async (req: FastifyRequest, order: Order, key: string, params: Record<string, string | number> = {}) => {
    const account = await store.accounts.get(order.accountId);
    const locale = acceptedLocale(req.headers['accept-language']) ?? resolveLocale(account?.locale ?? null, settings.defaultLocale);
    return t(locale, key, params);
  };

  /** A phone rail's attempt: its page (JSAPI) or its redirect (H5, WAP); the QR with one sentence when it cannot start. */
  const startRail = async (req: FastifyRequest, reply: FastifyReply, order: Order, rail: PhoneRail, openid?: string) => {
    let started;
    try {
      started = await startPhonePay(deps.app, { orderId: order.id, rail, payerIp: req.ip, ...(openid ? { openid } : {}) });
    } catch (err) {
      if (!(err instanceof ProviderRejectedError || err instanceof ProviderUnreachableError)) throw err;
      req.log.warn({ err, orderId: order.id, rail }, 'phone rail could not start');
      return render(req, reply, order, { fallback: await fallbackText(req, order, 'pay.fallback.provider') });
    }
    // Paid, expired or refunded meanwhile: no prepay was made; the page shows the status.
    if (started.state === 'not_payable') return render(req, reply, started.order);
    if (started.pay.kind === 'redirect') return reply.header('cache-control', 'no-store').redirect(started.pay.url, 302);
    return render(req, reply, started.order, { jsapi: started.pay.params });
  };

  app.get<{ Params: { orderId: string }; Querystring: { via?: string; signin?: string } }>('/pay/:orderId', async (req, reply) => {
    const order = await load(req.params.orderId);
    if (!order) return notFound(reply, localeOf(req));
    const choice =
      order.status === 'pending' && req.query.via !== 'qr' ? chooseRail(String(req.headers['user-agent'] ?? ''), deps.app.providers.get(order.provider)) : null;
    if (choice?.kind === 'phone' && choice.rail === 'jsapi' && deps.wechatMp) {
      // The openid this account paid with before: no redirect. Otherwise snsapi_base (no consent screen); also
      // when asked to sign in again (`?signin=1`: the remembered openid is not this WeChat user's, so the cashier failed).
      const openid = req.query.signin === '1' ? null : await store.oauth.getOpenid(order.accountId, deps.wechatMp.oauth.appid);
      if (openid) return startRail(req, reply, order, 'jsapi', openid);
      const state = await issueOauthState(deps.app, order.id, deps.wechatMp.stateSecret);
      return reply.header('cache-control', 'no-store').redirect(deps.wechatMp.oauth.authorizeUrl(oauthRedirect(order.id), state), 302);
    }
    return render(req, reply, order);
  });

  // The Official Account authorization comes back here with ?code=…&state=… (see payments/wechatpay/mp-oauth.ts).
  app.get<{ Params: { orderId: string }; Querystring: { code?: string; state?: string } }>('/pay/:orderId/wechat-oauth', async (req, reply) => {
    const order = await load(req.params.orderId);
    if (!order) return notFound(reply, localeOf(req));
    const mp = deps.wechatMp;
    if (!mp) return render(req, reply, order, { status: 400, fallback: await fallbackText(req, order, 'pay.fallback.state.forged') });
    const state = typeof req.query.state === 'string' ? req.query.state : undefined;
    const problem = await consumeOauthState(deps.app, order.id, state, mp.stateSecret);
    if (problem) {
      req.log.warn({ orderId: order.id, problem }, 'wechat oauth state refused');
      return render(req, reply, order, { status: 400, fallback: await fallbackText(req, order, `pay.fallback.state.${problem}`) });
    }
    const code = typeof req.query.code === 'string' ? req.query.code.trim() : '';
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(code))
      return render(req, reply, order, { status: 400, fallback: await fallbackText(req, order, 'pay.fallback.no_code') });
    let answer;
    try {
      answer = await mp.oauth.openid(code);
    } catch (err) {
      if (!(err instanceof ProviderUnreachableError)) throw err;
      req.log.warn({ err, orderId: order.id }, 'wechat oauth code exchange failed');
      return render(req, reply, order, { fallback: await fallbackText(req, order, 'pay.fallback.oauth', { detail: 'no answer' }) });
    }
    if (!answer.ok) {
      req.log.warn({ orderId: order.id, errcode: answer.errcode }, 'wechat oauth code exchange refused');
      return render(req, reply, order, { fallback: await fallbackText(req, order, 'pay.fallback.oauth', { detail: `errcode ${answer.errcode}` }) });
    }
    await store.oauth.setOpenid(order.accountId, mp.oauth.appid, answer.openid, deps.app.clock.now());
    return startRail(req, reply, order, 'jsapi', answer.openid);
  });

  for (const [path, rail] of [
    ['h5', 'h5'],
    ['alipay-wap', 'alipay_wap'],
  ] as const) {
    app.get<{ Params: { orderId: string } }>(`/pay/:orderId/${path}`, async (req, reply) => {
      const order = await load(req.params.orderId);
      if (!order) return notFound(reply, localeOf(req));
      const provider = deps.app.providers.get(order.provider);
      if (!(provider?.phoneRails ?? []).includes(rail))
        return reply.status(400).send({ error: 'invalid_input', message: `this order cannot be paid by ${rail}` });
      return startRail(req, reply, order, rail);
    });
  }

  app.get<{ Params: { orderId: string } }>('/pay/:orderId/status', async (req, reply) => {
    const order = await load(req.params.orderId);
    if (!order) return reply.status(404).send({ error: 'not_found', message: 'no such order' });
    return reply
      .header('cache-control', 'no-store')
      .send({ status: order.status, expiresAt: new Date(order.expiresAt).toISOString(), paidAt: order.paidAt ? new Date(order.paidAt).toISOString() : null });
  });

  app.get<{ Params: { orderId: string } }>('/pay/:orderId/qr.png', async (req, reply) => {
    const order = await load(req.params.orderId);
    if (!order || !order.checkoutQr) return reply.status(404).send({ error: 'not_found', message: 'no such order' });
    const png = await QRCode.toBuffer(order.checkoutQr, { type: 'png', width: 480, margin: 2, errorCorrectionLevel: 'M' });
    return reply.header('cache-control', 'no-store').type('image/png').send(png);
  });

  // Issue 16: a coupon typed on the pay page (form `code=…`). The discounted order is a new one (app/coupons.ts
  // applyCouponToOrder); the browser is sent there. A code that cannot be used re-renders this page with why.
  app.post<{ Params: { orderId: string } }>('/pay/:orderId/coupon', async (req, reply) => {
    const order = await load(req.params.orderId);
    if (!order) return reply.status(404).send({ error: 'not_found', message: 'no such order' });
    const code = new URLSearchParams(typeof req.body === 'string' ? req.body : '').get('code') ?? '';
    const wantsJson = (req.headers.accept ?? '').includes('application/json');
    try {
      const r = await applyCouponToOrder(deps.app, order.id, code);
      if (wantsJson) return reply.send({ orderId: r.order.id, status: r.order.status, amount: r.order.amountMinor, payUrl: r.payPageUrl });
      return reply.redirect(`/pay/${r.order.id}`, 303);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const status = err.code === 'not_found' ? 404 : err.code === 'conflict' ? 409 : err.code === 'forbidden' ? 403 : 400;
      if (wantsJson) return reply.status(status).send({ error: err.code, message: err.message });
      const locale = acceptedLocale(req.headers['accept-language']) ?? settings.defaultLocale;
      const why = err instanceof CouponRefusal ? t(locale, `coupon.refused.${err.reason}`, { code: code.trim().toUpperCase().slice(0, 32) }) : err.message;
      return render(req, reply, order, { couponError: why, status });
    }
  });

  app.post<{ Params: { orderId: string } }>('/pay/:orderId/dev-pay', async (req, reply) => {
    const dev = deps.devProvider;
    const order = await load(req.params.orderId);
    if (!order) return reply.status(404).send({ error: 'not_found', message: 'no such order' });
    if (!dev || order.provider !== 'dev') return reply.status(400).send({ error: 'invalid_input', message: 'this order is not a dev-provider order' });
    const { body, headers } = dev.pay(order);
    const result = await processWebhook(deps.app, dev, body, headers);
    if (result.outcome === STORAGE_UNAVAILABLE)
      return reply.status(503).send({ error: 'unavailable', message: 'the database is unavailable; try again later' });
    if ((req.headers.accept ?? '').includes('application/json'))
      return reply.send({ outcome: result.outcome, status: (await store.orders.get(order.id))?.status });
    return reply.redirect(`/pay/${order.id}`, 303);
  });
}
