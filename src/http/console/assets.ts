// The owner console's static files, all served from our own origin under /console/assets/ (never a CDN:
// the service works offline), so the pages' Content-Security-Policy can forbid every inline script and
// style. uPlot (a small MIT charting library) comes from node_modules as npm installed it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const uplotDir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));

export interface Asset {
  type: string;
  body: string;
}

let cache: Map<string, Asset> | null = null;

/** The assets by file name, read once. */
export function consoleAssets(): Map<string, Asset> {
  if (cache) return cache;
  cache = new Map([
    ['uplot.min.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(join(uplotDir, 'uPlot.iife.min.js'), 'utf8') }],
    ['uplot.min.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(uplotDir, 'uPlot.min.css'), 'utf8') }],
    ['console.css', { type: 'text/css; charset=utf-8', body: CONSOLE_CSS }],
    ['console.js', { type: 'text/javascript; charset=utf-8', body: CONSOLE_JS }],
  ]);
  return cache;
}

const CONSOLE_CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;--blue:#2f6fed;--ink:#1d2433;--muted:#667085;--line:#e4e7ec;--bg:#f3f5f8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font-size:15px;line-height:1.45}
a{color:var(--blue);text-decoration:none}
header.top{background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0;z-index:5}
.bar{max-width:1100px;margin:0 auto;display:flex;align-items:center;gap:12px;padding:10px 16px;flex-wrap:wrap}
.brand{display:flex;align-items:center;gap:8px;font-weight:700;color:var(--ink)}
.brand img{width:24px;height:24px}
nav.tabs{display:flex;gap:4px;overflow-x:auto;flex:1 1 auto;order:3;width:100%}
nav.tabs a{padding:8px 12px;border-radius:8px;color:var(--muted);font-weight:600;white-space:nowrap}
nav.tabs a.on{background:#eef2ff;color:var(--blue)}
.badge{display:inline-block;min-width:20px;padding:0 6px;margin-left:4px;border-radius:10px;background:#d92d20;color:#fff;font-size:.75rem;text-align:center;line-height:20px}
.badge.zero{background:var(--line);color:var(--muted)}
.who{margin-left:auto;display:flex;align-items:center;gap:8px;color:var(--muted);font-size:.85rem}
.who form{margin:0}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.35rem;margin:4px 0 12px}
h2{font-size:1.05rem;margin:20px 0 8px}
.muted{color:var(--muted);font-size:.85rem}
.cards{display:grid;grid-template-columns:repeat(2,1fr);gap:10px}
.card{background:#fff;border-radius:14px;box-shadow:0 1px 6px rgba(20,30,60,.07);padding:14px}
.card .k{color:var(--muted);font-size:.8rem}
.card .v{font-size:1.45rem;font-weight:700;margin-top:2px}
.panel{background:#fff;border-radius:14px;box-shadow:0 1px 6px rgba(20,30,60,.07);padding:14px;margin-top:12px;overflow-x:auto}
.chart{width:100%;min-height:240px}
.pills{display:flex;gap:6px;flex-wrap:wrap;margin-bottom:8px}
.pills a{padding:4px 10px;border-radius:999px;border:1px solid var(--line);color:var(--muted);font-size:.85rem}
.pills a.on{background:var(--blue);border-color:var(--blue);color:#fff}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:8px 6px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:.8rem}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.status{display:inline-block;padding:1px 8px;border-radius:999px;font-size:.8rem;background:#eef2ff;color:#3538cd}
.status.active,.status.paid{background:#e6f7ee;color:#136c3a}.status.grace,.status.review,.status.pending,.status.refund_pending,.status.awaiting_review{background:#fff4e5;color:#93370d}
.status.expired,.status.revoked,.status.banned,.status.refunded{background:#fdeeee;color:#8a1f1f}
.filters{display:grid;grid-template-columns:1fr 1fr;gap:8px;align-items:end}
.filters .wide{grid-column:1/-1}
label{display:block;font-size:.8rem;color:var(--muted);font-weight:600}
input,select,textarea{width:100%;margin-top:3px;padding:9px 10px;border:1px solid #cfd4dc;border-radius:9px;font:inherit;background:#fff;color:var(--ink)}
button,.btn{display:inline-block;padding:9px 16px;border:0;border-radius:9px;background:var(--blue);color:#fff;font:inherit;font-weight:600;cursor:pointer;text-align:center}
button.secondary,.btn.secondary{background:#fff;color:var(--ink);border:1px solid #cfd4dc}
button.danger{background:#d92d20}
button:disabled{opacity:.6;cursor:default}
.actions{display:grid;grid-template-columns:1fr;gap:12px}
.actions form{background:#f9fafb;border:1px solid var(--line);border-radius:12px;padding:12px;display:grid;gap:8px}
.notice{padding:10px 12px;border-radius:10px;margin:8px 0 12px;background:#e6f7ee;color:#136c3a;font-weight:600}
.notice.error{background:#fdeeee;color:#8a1f1f}
.confirm{max-width:520px;margin:24px auto;text-align:center}
.confirm .row{display:flex;gap:10px;justify-content:center;margin-top:16px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}
dl.facts dt{color:var(--muted);font-size:.85rem}
dl.facts dd{margin:0}
.list-m{display:none}
.panel>h2:first-child{margin-top:0}
.panel>p:first-child{margin-top:0}
.panel>p:last-child{margin-bottom:0}
.status{white-space:nowrap}
.row{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin-top:10px}
.row form{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:0}
.row form input{width:auto;flex:1 1 160px;margin:0}
#held .card,#applications .card{margin-bottom:10px;box-shadow:none;border:1px solid var(--line)}
#held .card:last-child,#applications .card:last-child{margin-bottom:0}
.confirm .row{justify-content:center}
.pager{margin-top:12px;display:flex;justify-content:flex-end}
.signin{max-width:420px;margin:10vh auto;text-align:center}
.signin .card{padding:24px}
.signin code{background:#f2f4f7;padding:2px 6px;border-radius:6px}
fieldset.checks{border:1px solid var(--line);border-radius:9px;padding:6px 10px 8px;margin:0;display:flex;flex-wrap:wrap;gap:4px 16px}
fieldset.checks legend{font-size:.8rem;color:var(--muted);font-weight:600;padding:0 4px}
fieldset.checks label,label.check{display:flex;align-items:center;gap:6px;font-weight:400;color:var(--ink);font-size:.9rem}
fieldset.checks input,label.check input{width:auto;margin:0}
.row.tight{margin-top:0;flex-wrap:nowrap}
ol.rules{margin:0;padding-left:22px}
ol.rules li{padding:6px 0;border-bottom:1px solid var(--line)}
ol.rules li>span{display:inline-block;margin-right:8px}
ol.rules li form{display:inline-block;margin:0}
ol.rules li button{padding:4px 10px;font-size:.85rem}
#questions .row form{flex:1 1 100%}
.filters.plan-form .wide{grid-column:1/-1}
@media (min-width:701px){.filters.plan-form{grid-template-columns:repeat(4,1fr)}}
@media (max-width:700px){
  table.wide{display:none}
  .list-m{display:block}
  .list-m .item{display:block;padding:10px 4px;border-bottom:1px solid var(--line);color:var(--ink)}
  .list-m .item .line2{color:var(--muted);font-size:.85rem}
  table.stack thead{display:none}
  table.stack tr{display:block;padding:8px 0;border-bottom:1px solid var(--line)}
  table.stack td{display:inline;border:0;padding:0 8px 0 0}
  table.stack td form{display:block;margin-top:6px}
  table.stack td:empty{display:none}
}
@media (min-width:701px){
  .cards{grid-template-columns:repeat(4,1fr)}
  /* ten tabs do not fit beside the brand and the account: brand and account on the first row, tabs below */
  .filters{grid-template-columns:2fr 1fr 1fr 1fr auto}
  .filters .wide{grid-column:auto}
  .actions{grid-template-columns:1fr 1fr}
}
/* Broadcast (issue 15 part 6): the compose form, the preview bubbles, live progress */
.compose{display:grid;gap:10px}
.compose textarea{min-height:140px;resize:vertical}
.row.spread{justify-content:space-between;margin-top:0}
.cards.three{grid-template-columns:repeat(3,1fr)}
.card.p-sent .v{color:#136c3a}
.progress progress{display:block;width:100%;height:10px;margin-top:10px;appearance:none;-webkit-appearance:none;border:0;border-radius:999px;background:#eaecf0;overflow:hidden}
.progress progress::-webkit-progress-bar{background:#eaecf0;border-radius:999px}
.progress progress::-webkit-progress-value{background:#12b76a;border-radius:999px}
.progress progress::-moz-progress-bar{background:#12b76a;border-radius:999px}
.progress.big .card .k::first-letter{text-transform:uppercase}
.progress.big progress{height:14px;margin-top:14px}
.progress .state{margin-top:6px}
.progress .figures{font-size:.9rem;margin-top:4px}
.progress[data-failed="true"] .p-failed,.progress[data-failed="true"] .p-failed .v{color:#d92d20}
#broadcast-list .item{padding:10px 0;border-bottom:1px solid var(--line)}
#broadcast-list .item:first-child{padding-top:0}
#broadcast-list .item:last-child{border-bottom:0;padding-bottom:0}
#broadcast-list .line1{display:flex;flex-wrap:wrap;gap:2px 10px;align-items:baseline;justify-content:space-between}
.confirm .preview{text-align:left;margin-top:14px}
.preview h2{margin:0 0 6px}
.preview-one{margin:10px 0}
.bubble{background:#eef2ff;border-radius:14px 14px 14px 4px;padding:10px 12px;margin-top:4px;white-space:pre-wrap;overflow-wrap:anywhere}
/* System page */
.status.sys-ok{background:#e6f7ee;color:#136c3a}.status.sys-warn{background:#fff4e5;color:#93370d}.status.sys-fail{background:#fdeeee;color:#8a1f1f}
img.sys-qr{display:block;width:240px;height:240px;margin:8px auto;border:1px solid var(--line);border-radius:12px;image-rendering:pixelated}
.sys-error{word-break:break-word;max-width:420px}
#jobs .cards{margin-bottom:8px}
/* Groups page: the settings form, the bot's standing */
.settings{display:grid;grid-template-columns:1fr;gap:14px}
.settings .help{display:block;font-weight:400;font-size:.8rem;margin-top:4px}
.standing{margin:0 0 8px}
#whitelist-form{flex:1 1 auto;max-width:560px}
#whitelist-form input{flex-basis:260px}
@media (min-width:701px){.settings{grid-template-columns:1fr 1fr;gap:18px 24px}}
`;

// Plain ES2017, no build step. Draws the revenue chart from the data the page carries (the same series as
// GET /api/stats), and lets a confirmation form submit once (the server refuses a second refund anyway).
const CONSOLE_JS = `'use strict';
(function () {
  document.querySelectorAll('form[data-once]').forEach(function (f) {
    f.addEventListener('submit', function () {
      f.querySelectorAll('button[type=submit]').forEach(function (b) { setTimeout(function () { b.disabled = true; }, 0); });
    });
  });
  var el = document.getElementById('revenue-chart');
  if (!el || typeof uPlot === 'undefined') return;
  var s = JSON.parse(el.getAttribute('data-series'));
  var xs = s.labels.map(function (_, i) { return i; });
  var ys = s.values;
  function size() { return { width: Math.max(el.clientWidth, 260), height: 240 }; }
  var opts = Object.assign(size(), {
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: false, range: function () { return [-0.6, xs.length - 0.4]; } }, y: { range: function (u, min, max) { return [Math.min(0, min), Math.max(1, max * 1.1)]; } } },
    axes: [
      { values: function (u, splits) { return splits.map(function (i) { return Number.isInteger(i) && s.labels[i] ? s.short[i] : ''; }); }, grid: { show: false }, stroke: '#667085' },
      { stroke: '#667085', grid: { stroke: '#eef0f3' }, size: 56 }
    ],
    series: [{}, { label: s.currency, stroke: '#2f6fed', fill: 'rgba(47,111,237,.55)', width: 0, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } }]
  });
  var chart = new uPlot(opts, [xs, ys], el);
  el.setAttribute('data-drawn', String(xs.length));
  window.addEventListener('resize', function () { chart.setSize(size()); });
})();
// Broadcast (issue 15 part 6): a character count under the text, and live progress. Each [data-progress-url]
// block asks its same-origin JSON endpoint every 1.5 s until nothing waits, then stops.
(function () {
  document.querySelectorAll('[data-count-for]').forEach(function (c) {
    var input = document.getElementById(c.getAttribute('data-count-for'));
    if (!input) return;
    var show = function () { c.textContent = input.value.length + ' / ' + c.getAttribute('data-max'); };
    input.addEventListener('input', show);
    show();
  });
  document.querySelectorAll('[data-progress-url]').forEach(function (el) {
    var bar = el.querySelector('progress');
    function draw(p) {
      ['sent', 'waiting', 'failed'].forEach(function (k) {
        el.querySelectorAll('[data-k="' + k + '"]').forEach(function (n) { n.textContent = String(p[k]); });
      });
      if (bar) { bar.max = Math.max(p.recipients, 1); bar.value = p.sent + p.failed; }
      el.setAttribute('data-failed', p.failed > 0 ? 'true' : 'false');
      el.setAttribute('data-finished', p.finished ? 'true' : 'false');
      var state = el.querySelector('[data-k="state"]');
      if (state) state.textContent = el.getAttribute(p.finished ? 'data-label-finished' : 'data-label-running');
    }
    function tick() {
      fetch(el.getAttribute('data-progress-url'), { credentials: 'same-origin', headers: { accept: 'application/json' } })
        // Signed out or not this session's broadcast: stop asking. A server or network hiccup: ask again later.
        .then(function (r) { if (r.status >= 400 && r.status < 500) return null; if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then(function (p) { if (!p) return; draw(p); if (!p.finished) setTimeout(tick, 1500); })
        .catch(function () { setTimeout(tick, 5000); });
    }
    if (el.getAttribute('data-finished') !== 'true') setTimeout(tick, 1000);
  });
})();
`;
