// The owner console's HTML: typed template functions, every value escaped (esc, the pay page's helper).
// No inline script or style anywhere (the Content-Security-Policy forbids both): the look comes from
// /console/assets/console.css and the chart from /console/assets/console.js.
import { esc } from '../routes/pay-page.ts';
import { FAVICON_DATA_URL } from '../favicon.ts';

/** Already-escaped HTML, so a template can tell it from text that still needs escaping. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | null | undefined | false | Part[];

function render(p: Part): string {
  if (p === null || p === undefined || p === false) return '';
  if (p instanceof Html) return p.value;
  if (Array.isArray(p)) return p.map(render).join('');
  return esc(String(p));
}

/** A template literal whose interpolated values are escaped unless they are Html. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => (out += render(v) + strings[i + 1]!));
  return new Html(out);
}

export interface Nav {
  active: 'overview' | 'members' | 'orders' | 'review' | 'plans' | 'groups' | 'growth' | 'broadcast' | 'audit' | 'system' | null;
  labels: {
    overview: string;
    members: string;
    orders: string;
    review: string;
    plans: string;
    groups: string;
    growth: string;
    broadcast: string;
    audit: string;
    system: string;
    signOut: string;
    language: string;
  };
  reviewQueue: number;
  who: string;
  csrf: string;
  /** The other language's switch link (?lang=…) and its label. */
  otherLang: { href: string; label: string };
}

export function layout(o: { locale: string; title: string; body: Html; nav?: Nav; chart?: boolean }): string {
  const n = o.nav;
  const tab = (key: Nav['active'] & string, href: string, label: string, badge?: number) =>
    html`<a href="${href}" class="${n?.active === key ? 'on' : ''}"
      >${label}${badge === undefined ? '' : html`<span class="badge ${badge === 0 ? 'zero' : ''}" data-badge="${key}">${badge}</span>`}</a
    >`;
  const header = n
    ? html`<header class="top">
        <div class="bar">
          <a class="brand" href="/console"><img src="${FAVICON_DATA_URL}" alt="" width="24" height="24" />Gatekeeper</a>
          <nav class="tabs">
            ${tab('overview', '/console', n.labels.overview)}${tab('members', '/console/members', n.labels.members)}${tab('orders', '/console/orders', n.labels.orders)}${tab('plans', '/console/plans', n.labels.plans)}${tab('groups', '/console/groups', n.labels.groups)}${tab('growth', '/console/growth', n.labels.growth)}${tab('broadcast', '/console/broadcast', n.labels.broadcast)}${tab('review', '/console/review', n.labels.review, n.reviewQueue)}${tab('audit', '/console/audit', n.labels.audit)}${tab('system', '/console/system', n.labels.system)}
          </nav>
          <div class="who">
            <span>${n.who}</span><a href="${n.otherLang.href}" lang="${n.otherLang.href.endsWith('zh-CN') ? 'zh-CN' : 'en'}">${n.otherLang.label}</a>
            <form method="post" action="/console/logout">
              <input type="hidden" name="_csrf" value="${n.csrf}" /><button type="submit" class="secondary" id="sign-out">${n.labels.signOut}</button>
            </form>
          </div>
        </div>
      </header>`
    : html``;
  return `<!doctype html>
<html lang="${esc(o.locale)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${esc(o.title)} · Gatekeeper</title>
<link rel="icon" href="${FAVICON_DATA_URL}">
${o.chart ? '<link rel="stylesheet" href="/console/assets/uplot.min.css">' : ''}
<link rel="stylesheet" href="/console/assets/console.css">
</head><body>${header.value}<main>${o.body.value}</main>
${o.chart ? '<script src="/console/assets/uplot.min.js"></script>' : ''}<script src="/console/assets/console.js"></script>
</body></html>`;
}

export const statusPill = (status: string, label: string) => html`<span class="status ${status}">${label}</span>`;

/** A form that posts once, with the session's CSRF token. */
export function postForm(action: string, csrf: string, inner: Html, extra = ''): Html {
  return html`<form method="post" action="${action}" data-once ${new Html(extra)}><input type="hidden" name="_csrf" value="${csrf}" />${inner}</form>`;
}

export const hidden = (name: string, value: string | number) => html`<input type="hidden" name="${name}" value="${String(value)}" />`;
