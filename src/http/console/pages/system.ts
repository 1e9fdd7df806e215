// The System page (issue 15 part 7): the health of the database, the chat adapters and the payment providers,
// WeChat's login QR while it waits for a scan, the job queue by lane, kind and status, and the dead letters
// with a "Retry" each. The rules live in app/system.ts: the database check and the providers' notification
// check are the ones /healthz and `gatekeeper doctor` make; who sees which dead letter, and the one retry.
//
// Health is shown to every session as state words (ok, running, logged_in…), as /healthz shows it to anyone;
// the operator also sees the adapters' details (errors, names, counters), as /healthz does for the admin token.
// The WeChat login QR is the operator's only: whoever scans it controls the bot's WeChat account, which serves
// every group (the admin API's GET /api/wechat/login is behind the admin token for the same reason).
import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import { coversEveryGroup, visibleGroups } from '../../../app/actors.ts';
import { type DeadLetter, deadLetterOf, databaseHealth, jobCounts, listDeadLetters, providerHealth, retryDeadLetter } from '../../../app/system.ts';
import type { HttpDeps } from '../../deps.ts';
import { publicHealth } from '../../health-view.ts';
import { html, type Html, postForm } from '../html.ts';
import { type ConsoleKit, idParam, query } from '../kit.ts';

type State = 'ok' | 'warn' | 'fail';

/** An adapter's state word, read as ok / needs attention / a problem. */
const ADAPTER_STATE: Record<string, State> = {
  running: 'ok',
  logged_in: 'ok',
  idle: 'warn',
  starting: 'warn',
  waiting_for_scan: 'warn',
  scanned: 'warn',
  stopped: 'fail',
  logged_out: 'fail',
  failed: 'fail',
};

const DEAD_PAGE = 50;

export function systemPages(app: FastifyInstance, k: ConsoleKit, deps: HttpDeps) {
  const { a, formatTime, localeOf, tr, need, mutate, page, confirmPage, confirmed, doneNotice } = k;

  app.get('/console/system', async (req, reply) => {
    const s = await need(req);
    const locale = localeOf(req);
    const t = tr(locale);
    // The operator session, or an owner whose claim covers every group (an operator, app/actors.ts).
    const operator = await coversEveryGroup(a.store, s.actor);
    const before = query(req, 'before');
    const beforeId = before !== undefined && /^\d{1,15}$/.test(before) ? Number(before) : undefined;
    const [db, counts, dead, groups] = await Promise.all([
      databaseHealth(a),
      jobCounts(a, s.actor),
      listDeadLetters(a, s.actor, { ...(beforeId !== undefined ? { beforeId } : {}), limit: DEAD_PAGE + 1 }),
      visibleGroups(a.store, s.actor),
    ]);
    const titles = new Map(groups.map((g) => [g.id, g.title]));
    const adapters = deps.health?.() ?? {};
    const shownAdapters = operator ? adapters : publicHealth(adapters);

    // ---- health
    const pill = (state: State, word: string) => html`<span class="status sys-${state}">${word}</span>`;
    const healthRow = (id: string, part: string, state: State, word: string, detail: Html | string) =>
      html`<tr id="${id}" data-state="${state}">
        <td><strong>${part}</strong></td>
        <td>${pill(state, word)}</td>
        <td class="muted">${detail}</td>
      </tr>`;
    const rowsOut: Html[] = [
      db.database === 'ok'
        ? healthRow('health-database', t('system_database'), 'ok', t('system_state_ok'), db.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL')
        : healthRow('health-database', t('system_database'), 'fail', t('system_db_unreachable'), operator ? (db.error ?? '') : ''),
    ];
    for (const [name, raw] of Object.entries(shownAdapters)) {
      if (typeof raw !== 'object' || raw === null) continue;
      const v = raw as Record<string, unknown>;
      const word = String(v.state ?? v.status ?? '?');
      const details = operator
        ? Object.entries(v)
            .filter(([key, x]) => !['state', 'status', 'loggedIn'].includes(key) && x !== null && x !== undefined && typeof x !== 'object')
            .map(([key, x]) => `${key}: ${String(x)}`)
            .join(' · ')
        : '';
      rowsOut.push(
        healthRow(`health-${name}`, name === 'wechat' ? 'WeChat' : name === 'telegram' ? 'Telegram' : name, ADAPTER_STATE[word] ?? 'warn', word, details),
      );
    }
    if (a.gateways.has('playground'))
      rowsOut.push(healthRow('health-playground', t('system_playground'), 'ok', t('system_state_ok'), t('system_playground_detail')));
    const providers = providerHealth(a);
    for (const p of providers) {
      const detail =
        p.name === 'dev'
          ? t('system_provider_dev')
          : p.name === 'stars'
            ? t('system_provider_stars')
            : p.status === 'ok'
              ? t('system_provider_ok', { url: p.notifyUrl ?? '' })
              : t('system_provider_fail', { url: p.notifyUrl ?? '' });
      rowsOut.push(healthRow(`health-provider-${p.name}`, t('system_provider', { name: p.name }), p.status, t(`system_state_${p.status}`), detail));
    }
    const waiting = operator && db.database === 'ok' ? await a.store.jobs.waitingForAdapter([...a.gateways.keys()]) : [];
    const health = html`<div class="panel" id="health">
      <h2>${t('system_health')}</h2>
      <table class="stack">
        <tbody>
          ${rowsOut}
        </tbody>
      </table>
      ${providers.length === 0 ? html`<p class="notice error">${t('system_no_providers')}</p>` : ''}
      ${waiting.map((w) => html`<p class="notice error" data-waiting="${w.platform}">${t('system_waiting_adapter', { count: w.count, platform: w.platform })}</p>`)}
    </div>`;

    // ---- WeChat login
    let wechat: Html | string = '';
    const login = deps.wechatLogin?.();
    if (login && login.status !== 'logged_in') {
      let inner: Html;
      if (!operator) inner = html`<p>${t('system_wechat_owner')}</p>`;
      else if (login.qr) {
        const src = await QRCode.toDataURL(login.qr, { width: 320, margin: 2 });
        inner = html`<p>${t('system_wechat_scan')}</p>
          <img class="sys-qr" id="wechat-qr" src="${src}" alt="${t('system_wechat_qr_alt')}" width="240" height="240" />
          <p class="muted">${t('system_wechat_reload')}</p>`;
      } else inner = html`<p class="muted">${t('system_wechat_no_code', { status: login.status })}</p>`;
      wechat = html`<div class="panel" id="wechat-login">
        <h2>${t('system_wechat_heading')}</h2>
        ${inner}
      </div>`;
    }

    // ---- jobs by lane, kind and status
    const statusWord = (st: string) => t(`system_job_${st}`);
    const card = (st: 'queued' | 'running' | 'done' | 'dead') =>
      html`<div class="card" id="jobs-${st}">
        <div class="k">${statusWord(st)}</div>
        <div class="v">${counts.byStatus[st]}</div>
      </div>`;
    const jobs = html`<div class="panel" id="jobs">
      <h2>${t('system_jobs')}</h2>
      <div class="cards">${card('queued')}${card('running')}${card('done')}${card('dead')}</div>
      ${operator ? '' : html`<p class="muted">${t('system_jobs_owner')}</p>`}
      ${
        counts.rows.length === 0
          ? html`<p class="muted">${t('none')}</p>`
          : html`<details>
              <summary class="muted">${t('system_jobs_detail')}</summary>
              <table id="job-counts" class="stack">
                <thead>
                  <tr>
                    <th>${t('system_col_lane')}</th>
                    <th>${t('col_kind')}</th>
                    <th>${t('col_status')}</th>
                    <th class="num">${t('system_col_count')}</th>
                  </tr>
                </thead>
                <tbody>
                  ${counts.rows.map(
                    (r) =>
                      html`<tr data-lane="${r.lane}" data-kind="${r.kind}" data-status="${r.status}">
                        <td>${r.lane}</td>
                        <td>${r.kind}</td>
                        <td>${statusWord(r.status)}</td>
                        <td class="num">${r.count}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </details>`
      }
    </div>`;

    // ---- dead letters
    const shown = dead.slice(0, DEAD_PAGE);
    const deadRow = (d: DeadLetter) =>
      html`<tr data-dead="${d.id}">
        <td><strong>#${d.id}</strong> ${d.kind}</td>
        <td>${formatTime(locale, d.at)}</td>
        <td>${t('system_attempts', { count: d.attempts })}</td>
        <td>${d.groupIds.map((g) => titles.get(g) ?? `#${g}`).join(', ')}</td>
        <td class="muted sys-error">${d.lastError ?? ''}</td>
        <td>
          ${postForm(`/console/system/jobs/${d.id}/retry`, s.csrfToken, html`<button type="submit" class="secondary" data-retry="${d.id}">${t('system_retry')}</button>`)}
        </td>
      </tr>`;
    const letters = html`<div class="panel" id="dead-letters">
      <h2>${t('system_dead')}</h2>
      ${operator ? '' : html`<p class="muted">${t('system_dead_owner')}</p>`}
      ${
        shown.length === 0
          ? html`<p class="muted" id="no-dead">${t('system_dead_none')}</p>`
          : html`<table class="stack">
              <thead>
                <tr>
                  <th>${t('col_kind')}</th>
                  <th>${t('col_when')}</th>
                  <th>${t('system_col_attempts')}</th>
                  <th>${t('col_group')}</th>
                  <th>${t('system_col_error')}</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${shown.map(deadRow)}
              </tbody>
            </table>`
      }
      ${
        dead.length > DEAD_PAGE
          ? html`<div class="pager"><a class="btn secondary" href="/console/system?before=${shown[shown.length - 1]!.id}">${t('next_page')}</a></div>`
          : ''
      }
    </div>`;

    const body = html`<h1>${t('system_title')}</h1>
      ${doneNotice(req, ['system_retry', 'system_already'])} ${health} ${wechat} ${letters} ${jobs}`;
    return page(req, reply, s, 'system', t('system_title'), body);
  });

  // ---- retry a dead letter: confirmation first; only the press that finds it dead queues it again
  app.post<{ Params: { id: string } }>('/console/system/jobs/:id/retry', async (req, reply) => {
    const s = await mutate(req);
    const t = tr(localeOf(req));
    const id = idParam(req.params.id, 'job id');
    const d = await deadLetterOf(a, s.actor, id);
    if (!confirmed(req)) {
      if (d.status !== 'dead') return reply.redirect('/console/system?done=system_already', 303);
      return confirmPage(req, reply, s, {
        active: 'system',
        question: t('system_confirm_retry', { id: d.id, kind: d.kind }),
        reason: d.lastError ?? undefined,
        cancelHref: '/console/system',
        action: `/console/system/jobs/${d.id}/retry`,
      });
    }
    const r = await retryDeadLetter(a, { actor: s.actor, jobId: d.id });
    return reply.redirect(`/console/system?done=${r === 'retried' ? 'system_retry' : 'system_already'}`, 303);
  });
}
