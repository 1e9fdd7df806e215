// Parts 2 and 4: the Telegram side, against the loopback Bot API emulator (test/fakes/telegram-emulator.ts)
// with Telegram's real limits (30 calls/s overall, 1 message/s per private chat, 20 messages/min per group)
// on the real clock. Everything listens on 127.0.0.1; every wait is bounded.
//
// Part 2 spawns the service (src/main.ts, as `npm start` would), with the emulator and the paced sender in
// this process: the latency is measured from outside, and the service's event loop carries nothing but
// the service.
// Part 4 runs the service in this process (createService with the real system clock, the SQL store and
// the Telegram adapter started), because its priority question can only be answered from inside: which
// lane every Bot API call was queued in, when it was let through, and when each invite or removal job
// became due and started. So that this process holds nothing but the service, the emulator runs in a
// child process (telegram-emulator-process.ts) and the payments are posted from a worker thread: the
// emulator stamps arrivals to check its limits, and work of its own on the service's event loop would
// delay those stamps and fake (or hide) calls above the limit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { broadcast } from '../../src/app/broadcast.ts';
import type { JobHandlers } from '../../src/app/job-handlers.ts';
import { LANES, type Lane, type Logger, type Store } from '../../src/app/ports.ts';
import { systemClock } from '../../src/app/clocks.ts';
import { loadConfig } from '../../src/config.ts';
import { DevProvider } from '../../src/payments/dev/dev-provider.ts';
import { createService } from '../../src/service.ts';
import { migrateToLatest, openDatabase } from '../../src/store/database.ts';
import { createStore } from '../../src/store/kysely-store.ts';
import { type SentMessage, TelegramEmulator, type User } from '../fakes/telegram-emulator.ts';
import { MESSAGE_METHODS } from '../../bots/telegram/bot-api-client.ts';
import { type Result, benchNotes, fmt, percentile, spawnService } from './harness.ts';
import { startRemoteEmulator } from './telegram-emulator-process.ts';
import { ADMIN_TOKEN, DEV_SECRET, log, type Target } from './parts.ts';
import { seedPendingOrders, seedTelegramAccounts, seedTelegramGroup, seedTelegramMemberships } from './seed.ts';

export const TG_TOKEN = '123456789:AAbench-token_0123456789abcdefghijklmn';
const LIMIT_PER_SECOND = 30;
/** The service's limiter keeps this much margin on every window (DEFAULT_LIMITS.telegram.marginMs). */
const LIMITER_MARGIN_MS = 50;
/**
 * A job committed this recently may simply not have been claimed yet (a free worker slot still needs its
 * claim transaction and the handler's reads before the first call reaches the limiter); a lower-lane call
 * let through in that moment is a race, not a lane that failed. Limiter-level waits get no such grace.
 */
const CLAIM_GRACE_MS = 50;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
/** Epoch milliseconds with sub-millisecond resolution, comparable with Date.now() and the jobs' run_at. */
const epochNow = () => performance.timeOrigin + performance.now();
const isAccessLane = (lane: string): lane is 'invite' | 'removal' => lane === 'invite' || lane === 'removal';
const isInvite = (m: SentMessage) => m.reply_markup?.inline_keyboard.flat().some((b) => b.url?.startsWith('https://t.me/+')) ?? false;

/** A supergroup with the bot as an administrator (full rights), `payers` people who started the bot, and `members` already in the group. */
function telegramWorld(emu: TelegramEmulator, payers: number, members: number) {
  const owner = emu.addUser('Owner', { language_code: 'en' });
  const chatId = emu.createGroup({ title: 'Bench club', creator: owner, admins: [emu.bot] });
  const payerUsers: User[] = Array.from({ length: payers }, (_, i) => emu.addUser(`Payer ${i}`, { language_code: 'en' }));
  emu.markStarted(payerUsers);
  const memberUsers: User[] = Array.from({ length: members }, (_, i) => emu.addUser(`Member ${i}`, { language_code: 'en' }));
  emu.seedMembers(chatId, memberUsers);
  return { chatId, payerUsers, memberUsers };
}

/** A signed dev notification for one order, posted to /webhooks/dev. */
function devPayer(baseUrl: () => string) {
  const dev = new DevProvider(DEV_SECRET, { now: () => Date.now(), sleep: async () => {} });
  return async (outTradeNo: string, i: number): Promise<number> => {
    const body = JSON.stringify({
      id: `evt_tg_${i}`,
      type: 'payment.paid',
      created: Date.now(),
      data: { out_trade_no: outTradeNo, txn_id: `tx_tg_${i}`, amount_minor: 990, currency: 'CNY', merchant_id: 'dev-merchant', paid_at: Date.now() },
    });
    const res = await fetch(`${baseUrl()}/webhooks/dev`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-gatekeeper-dev-signature': dev.sign(body) },
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    return res.status;
  };
}

/** POSTs each request (at most `concurrency` at once, for at most `maxMs`) from a worker thread; resolves with the answer statuses counted. */
function postFromThread(
  url: string,
  requests: Array<{ body: string; headers: Record<string, string> }>,
  concurrency: number,
  maxMs: number,
): Promise<Record<string, number>> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { url, requests, concurrency, maxMs } = workerData;
    const statuses = {};
    const end = Date.now() + maxMs;
    let next = 0;
    const lane = async () => {
      while (next < requests.length && Date.now() < end) {
        const r = requests[next++];
        let s = 'error';
        try {
          const res = await fetch(url, { method: 'POST', body: r.body, headers: r.headers, signal: AbortSignal.timeout(30000) });
          await res.arrayBuffer();
          s = String(res.status);
        } catch {}
        statuses[s] = (statuses[s] || 0) + 1;
      }
    };
    Promise.all(Array.from({ length: concurrency }, lane)).then(() => parentPort.postMessage(statuses));
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { url, requests, concurrency, maxMs } });
    w.once('message', (m: Record<string, number>) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`the sender thread exited (${code}) without answering`)));
  });
}

async function until(cond: () => boolean, maxMs: number, stepMs = 50): Promise<boolean> {
  const end = performance.now() + maxMs;
  while (performance.now() < end) {
    if (cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

// ------------------------------------------------------------------ part 2

export interface LatencyPhase {
  /** Payments per second, sent open-loop (on schedule, whatever the answers do). */
  rate: number;
  seconds: number;
  /** How long to wait for the invites after the last payment was accepted. */
  waitSeconds: number;
  /** Row label, e.g. "at 20/s". */
  label: string;
  /** The p99 goal in ms (the issue's figure). */
  goalMs: number;
  /** Wait for this phase's confirmation notices too before the next phase (so it starts with an empty queue). */
  drainNotices?: boolean;
}

/**
 * Part 2: from the notification being accepted (HTTP 200 from /webhooks/dev, seen by the sender) to the
 * invite DM (the join-request link, createChatInviteLink + sendMessage) arriving at the emulator, at a
 * steady payment rate. Phases run one after the other on one spawned service.
 *
 * With `lapsed` (part 6, "pay-to-invite during an expiry batch"): that many members of the same group
 * lapsed an hour ago; the service's sweep (every 2 s here) expires them and queues their removals, and the
 * payments start once the first removal reached the emulator, so every invite competes with the batch.
 * The figures then include how many removals were done when the payments ended and when the wait ended.
 */
export async function payToInvite(target: Target, phases: LatencyPhase[], opts: { lapsed?: number } = {}): Promise<Result[]> {
  const lapsed = opts.lapsed ?? 0;
  const total = phases.reduce((s, p) => s + Math.round(p.rate * p.seconds), 0);
  const emu = await TelegramEmulator.start({ token: TG_TOKEN });
  const { chatId, payerUsers, memberUsers } = telegramWorld(emu, total, lapsed);
  const url = target.fresh(lapsed > 0 ? 'p2i_batch' : 'p2i');
  const opened = await openDatabase(url);
  await migrateToLatest(opened);
  const now = Date.now();
  const { planId, groupId } = await seedTelegramGroup(opened.db, chatId, 'Bench club', now);
  const accountIds = await seedTelegramAccounts(
    opened.db,
    payerUsers.map((u) => u.id),
    now,
  );
  const outTradeNos = await seedPendingOrders(opened.db, total, planId, now, { provider: 'dev', accountIds });
  if (lapsed > 0) {
    const memberAccounts = await seedTelegramAccounts(
      opened.db,
      memberUsers.map((u) => u.id),
      now,
    );
    await seedTelegramMemberships(opened.db, memberAccounts, groupId, now - 3_600_000, now);
  }
  await opened.close();
  const removedCount = () => memberUsers.filter((u) => !emu.isMember(chatId, u.id)).length;

  const inviteAt = new Map<number, number>();
  const noticeAt = new Map<number, number>();
  emu.onSent = (m) => {
    const t = performance.now();
    if (isInvite(m)) {
      if (!inviteAt.has(m.chat_id)) inviteAt.set(m.chat_id, t);
    } else if (!noticeAt.has(m.chat_id)) noticeAt.set(m.chat_id, t);
  };

  const results: Result[] = [];
  const svc = await spawnService({
    DATABASE_URL: url,
    ADMIN_TOKEN,
    DEV_PAY_SECRET: DEV_SECRET,
    PAYMENT_PROVIDERS: 'dev',
    ALLOW_DEV_PAYMENTS: '1',
    TELEGRAM_BOT_TOKEN: TG_TOKEN,
    TELEGRAM_API_ROOT: emu.url,
    ...(lapsed > 0 ? { SWEEP_CRON: '*/2 * * * * *' } : {}),
  });
  try {
    // The adapter is ready once it polls (getMe and deleteWebhook went first).
    if (!(await until(() => emu.calls.some((c) => c.method === 'getUpdates'), 20_000))) throw new Error('the Telegram adapter did not start polling');
    if (lapsed > 0 && !(await until(() => removedCount() > 0, 20_000)))
      throw new Error('the expiry batch did not start: no lapsed member was removed within 20 s');
    const removedAtStart = removedCount();
    const pay = devPayer(() => svc.url);
    let next = 0;
    for (const phase of phases) {
      const count = Math.round(phase.rate * phase.seconds);
      const first = next;
      next += count;
      const accepted = new Map<number, number>();
      const statuses: Record<string, number> = {};
      const interval = 1000 / phase.rate;
      const sends: Promise<void>[] = [];
      const t0 = performance.now();
      for (let k = 0; k < count; k++) {
        const due = t0 + k * interval;
        if (due > performance.now()) await sleep(due - performance.now());
        const i = first + k;
        sends.push(
          pay(outTradeNos[i]!, i).then(
            (status) => {
              statuses[status] = (statuses[status] ?? 0) + 1;
              if (status === 200) accepted.set(payerUsers[i]!.id, performance.now());
            },
            () => {
              statuses.error = (statuses.error ?? 0) + 1;
            },
          ),
        );
      }
      const sentIn = (performance.now() - t0) / 1000;
      await Promise.all(sends);
      const removedWhenPaid = removedCount();
      const users = payerUsers.slice(first, first + count).map((u) => u.id);
      await until(() => users.every((u) => inviteAt.has(u) || !accepted.has(u)), phase.waitSeconds * 1000);
      const cutoff = performance.now();
      if (phase.drainNotices) await until(() => users.every((u) => noticeAt.has(u) || !accepted.has(u)), phase.waitSeconds * 1000);

      // Not arrived by the cutoff: counted with the time waited so far, so the percentiles are lower bounds.
      const lat: number[] = [];
      let missing = 0;
      let noticeFirst = 0;
      const gaps: number[] = [];
      const noticeLat: number[] = [];
      for (const [u, at] of accepted) {
        const n0 = noticeAt.get(u);
        if (n0 !== undefined && n0 <= cutoff) noticeLat.push(n0 - at);
        const inv = inviteAt.get(u);
        if (inv === undefined || inv > cutoff) {
          missing++;
          lat.push(cutoff - at);
          continue;
        }
        lat.push(inv - at);
        const n = noticeAt.get(u);
        if (n !== undefined && n < inv) {
          noticeFirst++;
          gaps.push(inv - n);
        }
      }
      lat.sort((a, b) => a - b);
      gaps.sort((a, b) => a - b);
      noticeLat.sort((a, b) => a - b);
      const p50 = percentile(lat, 50);
      const p99 = percentile(lat, 99);
      log(
        `pay-to-invite ${phase.label}: ${count} payments sent in ${fmt(sentIn, 1)} s (${fmt(count / sentIn, 1)}/s), answers ${JSON.stringify(statuses)}, ` +
          `${accepted.size - missing} invites arrived, ${missing} not within ${phase.waitSeconds} s; p50 ${fmt(p50, 0)} ms, p99 ${fmt(p99, 0)} ms, max ${fmt(lat.at(-1) ?? NaN, 0)} ms` +
          `${missing ? ' (lower bounds)' : ''}; the payment notice reached the same chat first for ${noticeFirst} (median gap to the invite ${fmt(percentile(gaps, 50), 0)} ms); ` +
          `payment notices arrived: ${noticeLat.length}, p50 ${fmt(percentile(noticeLat, 50), 0)} ms after the 200`,
      );
      if (missing > 0)
        benchNotes.push(
          `pay-to-invite ${phase.label} (${target.dialect}): ${missing} invites had not arrived ${phase.waitSeconds} s after the last payment; they count with the time waited so far, so its p50/p99 are lower bounds`,
        );
      const d = target.dialect;
      results.push(
        { name: `pay-to-invite p50 ${phase.label}`, value: Math.round(p50), unit: 'ms', goal: 'report', met: null, dialect: d },
        {
          name: `pay-to-invite p99 ${phase.label}`,
          value: Math.round(p99),
          unit: 'ms',
          goal: `< ${phase.goalMs}`,
          met: missing === 0 && p99 < phase.goalMs,
          dialect: d,
        },
        {
          name: `invites not arrived ${phase.waitSeconds} s after the last ${phase.label}`,
          value: missing + (count - accepted.size),
          unit: 'invites',
          goal: '= 0',
          met: missing === 0 && accepted.size === count,
          dialect: d,
        },
      );
      if (lapsed > 0) {
        const removedAtEnd = removedCount();
        log(
          `expiry batch ${phase.label}: ${removedAtStart} of ${lapsed} lapsed members removed when the payments began, ${removedWhenPaid} when the last was accepted, ${removedAtEnd} at the end of the wait`,
        );
        results.push({
          name: `removals done (of ${lapsed}) by the end ${phase.label}`,
          value: removedAtEnd,
          unit: 'removals',
          goal: 'report',
          met: null,
          dialect: d,
        });
      }
    }
    if (emu.violations.length > 0)
      log(
        `the emulator refused ${emu.violations.length} calls over its limits during part 2 (${emu.violations
          .map((v) => `${v.method} ${v.rule}`)
          .join(', ')
          .slice(0, 300)}); a 429 pauses every Bot API call for retry_after (1 s)`,
      );
  } finally {
    await svc.stop();
    await emu.close();
  }
  return results;
}

// ------------------------------------------------------------------ part 4

interface Grant {
  lane: Lane;
  /** The limiter window it took: a message, or a call that posts nothing (Telegram counts them apart). */
  kind: 'message' | 'call';
  chatId: string | undefined;
  /** Queued at the limiter, let through (epoch ms). */
  t0: number;
  t1: number;
}

interface Run {
  kind: string;
  lane: string;
  key: string | null;
  runAt: number;
  start: number;
  end: number;
}

const quietLogger = (): Logger & { errors: string[]; warnings: number } => {
  const l = {
    errors: [] as string[],
    warnings: 0,
    info() {},
    warn() {
      l.warnings++;
    },
    error(obj: object, msg?: string) {
      if (l.errors.length < 20) l.errors.push(`${msg ?? ''} ${JSON.stringify(obj).slice(0, 300)}`);
    },
  };
  return l;
};

/** Records, per job dedupe key, when the transaction that enqueued it committed (when the job became claimable). */
function recordCommits(store: Store): Map<string, number> {
  const committedAt = new Map<string, number>();
  const original = store.transaction.bind(store);
  store.transaction = <T>(fn: Parameters<Store['transaction']>[0]) => {
    const keys: string[] = [];
    return original(async (tx) => {
      const enqueue = tx.jobs.enqueue;
      tx.jobs.enqueue = async (jobs, now) => {
        for (const j of jobs) if (j.dedupeKey) keys.push(j.dedupeKey);
        return enqueue(jobs, now);
      };
      return fn(tx) as Promise<T>;
    }).then((r) => {
      const t = epochNow();
      for (const k of keys) if (!committedAt.has(k)) committedAt.set(k, t);
      return r as T;
    });
  };
  return committedAt;
}

/** Sliding 1-s window (the emulator's: (t − 1000, t]) maximum over sorted times. */
function maxInWindow(sorted: number[], spanMs = 1000): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[lo]! <= sorted[hi]! - spanMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/**
 * Part 4: a burst of `payments` paid notifications (via /webhooks/dev) and `removals` lapsed members (one
 * scheduler.tick() expires them and queues their removals), each with its notice, against the emulator in
 * real time. It lands while an owner's broadcast to `audience` members of another group is going out, so
 * the lanes have lower-lane work to hold back. Stops at `boundSeconds` whether or not everything went out.
 */
export async function outboundBurst(target: Target, payments: number, removals: number, boundSeconds: number, audience: number): Promise<Result[]> {
  const emu = await startRemoteEmulator(TG_TOKEN);
  const { chatId, payerIds, memberIds, loungeChatId, audienceIds } = await emu.world(payments, removals, audience);
  const url = target.fresh('burst');
  const opened = await openDatabase(url);
  await migrateToLatest(opened);
  const seededAt = Date.now();
  const { groupId, planId } = await seedTelegramGroup(opened.db, chatId, 'Bench club', seededAt);
  const payerAccounts = await seedTelegramAccounts(opened.db, payerIds, seededAt);
  const memberAccounts = await seedTelegramAccounts(opened.db, memberIds, seededAt);
  const outTradeNos = await seedPendingOrders(opened.db, payments, planId, seededAt, { provider: 'dev', accountIds: payerAccounts });
  await seedTelegramMemberships(opened.db, memberAccounts, groupId, seededAt - 3_600_000, seededAt);
  const lounge = await seedTelegramGroup(opened.db, loungeChatId, 'Bench lounge', seededAt);
  const audienceAccounts = await seedTelegramAccounts(opened.db, audienceIds, seededAt);
  await seedTelegramMemberships(opened.db, audienceAccounts, lounge.groupId, seededAt + 30 * 86_400_000, seededAt);

  const dataDir = mkdtempSync(join(tmpdir(), 'gk-bench-tg-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    DATABASE_URL: url,
    ADMIN_TOKEN,
    DEV_PAY_SECRET: DEV_SECRET,
    PAYMENT_PROVIDERS: 'dev',
    ALLOW_DEV_PAYMENTS: '1',
    TELEGRAM_BOT_TOKEN: TG_TOKEN,
    TELEGRAM_API_ROOT: emu.url,
    PLAYGROUND: 'off',
    HOST: '127.0.0.1',
    PUBLIC_URL: 'http://127.0.0.1',
    SWEEP_CRON: '0 0 1 1 *',
  });
  const store = createStore(opened);
  const committedAt = recordCommits(store);
  const logger = quietLogger();
  const service = await createService({ config, adminToken: ADMIN_TOKEN, devPaySecret: DEV_SECRET, store, clock: systemClock, logger });

  // Instrumentation from outside the product: the lane and timing of every limiter slot, and when each job ran.
  const grants: Grant[] = [];
  const acquire = service.limiter.acquire.bind(service.limiter);
  service.limiter.acquire = (req) => {
    const g: Grant = { lane: req.lane, kind: req.kind ?? 'message', chatId: req.chatId, t0: epochNow(), t1: Number.NaN };
    grants.push(g);
    return acquire(req).then(() => {
      g.t1 = epochNow();
    });
  };
  const runs: Run[] = [];
  const handlers = (service.worker as unknown as { jobs: JobHandlers }).jobs.handlers;
  for (const [kind, handler] of Object.entries(handlers)) {
    handlers[kind] = async (job, run) => {
      const r: Run = { kind, lane: job.lane, key: job.dedupeKey, runAt: job.runAt, start: epochNow(), end: Number.NaN };
      runs.push(r);
      try {
        return await handler(job, run);
      } finally {
        r.end = epochNow();
      }
    };
  }

  // What must arrive: per payer an invite DM and a payment notice; per lapsed member the removal and its notice.
  const invited = new Set<number>();
  const payNoticed = new Set<number>();
  const remNoticed = new Set<number>();
  const broadcasted = new Set<number>();
  const payers = new Set(payerIds);
  const readers = new Set(audienceIds);
  let firstInviteAt: number | undefined;
  emu.onSent = (m) => {
    if (payers.has(m.chatId) && m.invite) firstInviteAt ??= m.at;
    // The payment confirmation rides in the invite message (one message per payment): that message is both.
    if (payers.has(m.chatId)) {
      if (m.invite) invited.add(m.chatId);
      payNoticed.add(m.chatId);
    } else if (readers.has(m.chatId)) broadcasted.add(m.chatId);
    else remNoticed.add(m.chatId);
  };
  let removed = new Set<number>();
  const expected = payments * 2 + removals * 2;
  const deliveredCount = async () => {
    removed = new Set(await emu.removed(chatId, memberIds));
    return invited.size + payNoticed.size + remNoticed.size + removed.size;
  };

  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${(service.app.server.address() as { port: number }).port}`;
  const results: Result[] = [];
  let stopped = false;
  try {
    service.start();
    if (!(await until(() => service.telegram?.health().state === 'running', 20_000)))
      throw new Error(`the Telegram adapter did not start: ${service.telegram?.health().lastError ?? 'no adapter'}`);

    // The owner's broadcast to the lounge is under way (the worker pool full of broadcast jobs) when the burst lands.
    await broadcast(service.deps, { actor: { kind: 'admin', via: 'cli' }, groupId: lounge.groupId, text: 'Bench broadcast: the weekly digest is out.' });
    await until(() => broadcasted.size >= Math.min(audience, 30), 10_000);
    const broadcastBefore = broadcasted.size;

    // Signed here (the signature's timestamp allows 5 minutes), sent from a worker thread: the sender's own work
    // must not sit on the event loop of the service under test, as a payment provider's would not.
    const dev = new DevProvider(DEV_SECRET, { now: () => Date.now(), sleep: async () => {} });
    const signed = outTradeNos.map((no, i) => {
      const body = JSON.stringify({
        id: `evt_burst_${i}`,
        type: 'payment.paid',
        created: Date.now(),
        data: { out_trade_no: no, txn_id: `tx_burst_${i}`, amount_minor: 990, currency: 'CNY', merchant_id: 'dev-merchant', paid_at: Date.now() },
      });
      return { body, headers: { 'content-type': 'application/json', 'x-gatekeeper-dev-signature': dev.sign(body) } };
    });
    const tBurst = epochNow();
    const deadline = performance.now() + boundSeconds * 1000;
    const [tick, statuses] = await Promise.all([service.scheduler.tick(), postFromThread(`${baseUrl}/webhooks/dev`, signed, 16, boundSeconds * 1000)]);
    const burstQueuedIn = (epochNow() - tBurst) / 1000;
    log(`burst queued in ${fmt(burstQueuedIn, 1)} s: ${payments} payments ${JSON.stringify(statuses)}, sweep ${JSON.stringify(tick.expiry)}`);
    let drained = false;
    let deliveredAtBound = 0;
    for (let i = 0; i < 100_000; i++) {
      deliveredAtBound = await deliveredCount();
      if (deliveredAtBound >= expected) drained = true;
      if (drained || performance.now() >= deadline) break;
      await sleep(Math.min(200, deadline - performance.now()));
    }
    const tEnd = epochNow();
    const elapsed = (tEnd - tBurst) / 1000;

    // Stop taking new work; jobs already holding a limiter slot finish (they count as delivered if they arrive).
    await service.stop();
    stopped = true;

    // ---- rate, and calls above the limit, as the emulator saw them
    const stats = await emu.stats();
    const calls = stats.calls.filter((c) => c.at >= tBurst - 1);
    const okAt = calls.filter((c) => c.status === 200 && c.at <= tEnd).map((c) => c.at);
    const span = okAt.length > 1 ? (okAt.at(-1)! - okAt[0]!) / 1000 : Number.NaN;
    const rate = okAt.length > 1 ? (okAt.length - 1) / span : Number.NaN;
    const violations = stats.violations.filter((v) => v.at >= tBurst - 1);
    if (violations.length) {
      // Where did it come from: when the limiter let calls go vs when the emulator saw them, in the second before.
      const v0 = violations[0]!.at;
      log(
        `first refused call: emulator arrivals in the second before (ms, relative): ${calls
          .filter((c) => c.at > v0 - 1100 && c.at <= v0 + 10)
          .map((c) => `${fmt(c.at - v0, 0)}:${c.method}:${c.status}`)
          .join(' ')}`,
      );
      log(
        `first refused call: limiter grants in the second before (ms, relative): ${grants
          .filter((g) => g.t1 > v0 - 1200 && g.t1 <= v0 + 10)
          .map((g) => fmt(g.t1 - v0, 0))
          .join(' ')}`,
      );
    }
    const byRule = violations.reduce<Record<string, number>>((a, v) => ((a[v.rule] = (a[v.rule] ?? 0) + 1), a), {});
    // Only messages count toward Telegram's message window; the calls that post nothing have a window of their own.
    const maxWindow = maxInWindow(
      calls
        .filter((c) => MESSAGE_METHODS.has(c.method))
        .map((c) => c.at)
        .sort((a, b) => a - b),
    );
    const maxCallsWindow = maxInWindow(
      calls
        .filter((c) => !MESSAGE_METHODS.has(c.method))
        .map((c) => c.at)
        .sort((a, b) => a - b),
    );
    const injected429 = calls.filter((c) => c.status === 429).length;

    // ---- lost: a job given up on, or done without its effect arriving; still queued is not lost
    const jobs = await store.jobs.list({});
    const memberships = new Map((await opened.db.selectFrom('memberships').select(['id', 'account_id']).execute()).map((m) => [m.id, m.account_id]));
    const deliveredAfterStop = await deliveredCount();
    const userOfAccount = new Map<number, number>([
      ...payerAccounts.map((a, i) => [a, payerIds[i]!] as const),
      ...memberAccounts.map((a, i) => [a, memberIds[i]!] as const),
    ]);
    let lost = 0;
    let dead = 0;
    const open: Record<string, number> = {};
    const lostKinds: Record<string, number> = {};
    for (const j of jobs) {
      if (j.status !== 'done' && j.status !== 'dead') {
        open[`${j.kind}/${j.lane}`] = (open[`${j.kind}/${j.lane}`] ?? 0) + 1;
        continue;
      }
      const p = j.payload as { membershipId?: number; accountId?: number };
      const account = p.membershipId !== undefined ? memberships.get(p.membershipId) : p.accountId;
      const user = account !== undefined ? userOfAccount.get(account) : undefined;
      let arrived = false;
      if (user === undefined)
        arrived = j.status === 'done'; // not part of the burst (e.g. an owner alert)
      else if (j.kind === 'invite') arrived = invited.has(user);
      else if (j.kind === 'remove') arrived = removed.has(user);
      else if (j.kind === 'notify') arrived = payers.has(user) ? payNoticed.has(user) : readers.has(user) ? broadcasted.has(user) : remNoticed.has(user);
      else arrived = j.status === 'done';
      if (j.status === 'dead') dead++;
      if (!arrived || j.status === 'dead') {
        lost++;
        lostKinds[`${j.kind}/${j.lane}`] = (lostKinds[`${j.kind}/${j.lane}`] ?? 0) + 1;
      }
    }
    const pending = expected - deliveredAfterStop;
    // Calls still needed: a first payer's invite is 2 (createChatInviteLink, sendMessage), a removal 4
    // (getChatMember, ban, unban, getChatMember), a notice 1.
    // The payment notice needs no call of its own: it goes with the invite message.
    const callsLeft = (payments - invited.size) * 2 + (removals - removed.size) * 4 + (removals - remNoticed.size);
    const projected = elapsed + callsLeft / rate;

    // ---- priority: lower-lane calls let through while an invite or removal was waiting (a removal passing a
    // waiting invite counts too: lanes invite > removal > the rest)
    const broadcastDuring = broadcasted.size - broadcastBefore;
    const trackedAccess = [...committedAt.keys()].filter((k) => k.startsWith('invite:') || k.startsWith('remove:')).length;
    const lower = grants.filter((g) => LANES[g.lane] > LANES.invite && g.t1 >= tBurst && g.t1 <= tEnd);
    const chatGrants = new Map<string, number[]>();
    for (const g of grants)
      if (g.chatId !== undefined && Number.isFinite(g.t1)) (chatGrants.get(g.chatId) ?? chatGrants.set(g.chatId, []).get(g.chatId)!).push(g.t1);
    // An access call for a private chat may rightly wait for that chat's own 1 msg/s window (lower-lane calls to
    // other chats pass it meanwhile); but if a lower-lane message to that same chat took the window, the
    // access call waited behind it, and that message counts.
    const chatBlocked = (chatId: string | undefined, at: number) =>
      chatId !== undefined && (chatGrants.get(chatId) ?? []).some((t) => t < at && t > at - 1000 - LIMITER_MARGIN_MS);
    type Waiting = { from: number; to: number; lane: Lane; kind?: Grant['kind']; chatId?: string; job?: boolean };
    const waiting: Waiting[] = [];
    // (a) an access job due (its transaction committed, run_at reached) but not yet started: the pool was busy;
    const started = new Set<string>();
    for (const r of runs) {
      if (!isAccessLane(r.lane)) continue;
      if (r.key) started.add(r.key);
      const due = Math.max(r.runAt, (r.key ? committedAt.get(r.key) : undefined) ?? r.runAt);
      if (r.start > due) waiting.push({ from: due, to: r.start, lane: r.lane, job: true });
    }
    for (const [key, at] of committedAt)
      if ((key.startsWith('invite:') || key.startsWith('remove:')) && !started.has(key))
        waiting.push({ from: at, to: tEnd, lane: key.startsWith('invite:') ? 'invite' : 'removal', job: true });
    // (b) an access call queued at the limiter: only a lower-lane call through the same window passes it (a
    // message does not hold back a call that posts nothing, nor the other way round).
    for (const g of grants)
      if (isAccessLane(g.lane) && g.t0 >= tBurst - 1)
        waiting.push({ from: g.t0, to: Number.isFinite(g.t1) ? g.t1 : tEnd, lane: g.lane, kind: g.kind, chatId: g.chatId });
    // "Longest wait": how long an invite or removal had been waiting when the last lower-lane call passed it.
    let overtaking = 0;
    let longest = 0;
    let lastOvertake: number | undefined;
    /** Which lane passed which waiting one, and whether that one waited for a worker slot (job) or at the limiter. */
    const passes: Record<string, number> = {};
    for (const l of lower) {
      let hit = false;
      for (const w of waiting) {
        if (LANES[l.lane] <= LANES[w.lane] || (w.kind !== undefined && w.kind !== l.kind)) continue;
        let passed = false;
        if (l.t1 > w.from + (w.job ? CLAIM_GRACE_MS : 0) && l.t1 < w.to && !chatBlocked(w.chatId, l.t1)) {
          passed = true;
          longest = Math.max(longest, l.t1 - w.from);
        } else if (w.chatId !== undefined && w.chatId === l.chatId && l.t1 > w.from - 1000 - LIMITER_MARGIN_MS && l.t1 < w.to) {
          passed = true;
          longest = Math.max(longest, w.to - w.from);
        }
        if (passed && !hit) {
          const key = `${l.lane} ${l.kind} passed ${w.lane} ${w.job ? 'job' : (w.kind ?? '')}`;
          passes[key] = (passes[key] ?? 0) + 1;
        }
        hit ||= passed;
      }
      if (hit) {
        overtaking++;
        lastOvertake = l.t1;
      }
    }
    // How many invite/removal jobs ran at once during the burst (the worker runs up to 16 jobs), and how many
    // lower-lane jobs sat in the pool waiting for the limiter meanwhile.
    const inPool = (lane: (l: string) => boolean, at: number) => runs.filter((r) => lane(r.lane) && r.start <= at && !(r.end <= at)).length;
    const samples = Array.from({ length: Math.max(1, Math.floor((tEnd - tBurst) / 250)) }, (_, i) => tBurst + 250 * (i + 1));
    const accessInPool = samples.map((t) => inPool(isAccessLane, t));
    const lowerInPool = samples.map((t) => inPool((l) => !isAccessLane(l), t));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const accessWaits = grants
      .filter((g) => isAccessLane(g.lane) && g.t0 >= tBurst - 1 && Number.isFinite(g.t1))
      .map((g) => g.t1 - g.t0)
      .sort((a, b) => a - b);
    const firstLower = lower[0]?.t1;

    // Invites go before removals (lanes invite > removal): a large expiry batch queued just before the
    // payments must not delay them.
    const firstInvite =
      firstInviteAt !== undefined
        ? `the first invite arrived ${fmt((firstInviteAt - tBurst) / 1000, 1)} s after the burst began`
        : `no invite arrived within the bound`;
    log(
      `burst: ${drained ? 'everything arrived' : `stopped at the ${boundSeconds} s bound`} after ${fmt(elapsed, 1)} s; ${firstInvite}; delivered ${deliveredAtBound}/${expected} at the bound, ${deliveredAfterStop} after stop ` +
        `(invites ${invited.size}/${payments}, payment notices ${payNoticed.size}/${payments}, removals ${removed.size}/${removals}, removal notices ${remNoticed.size}/${removals}); open jobs ${JSON.stringify(open)}`,
    );
    log(
      `burst: ${okAt.length} calls answered in ${fmt(span, 1)} s = ${fmt(rate, 2)}/s (${fmt((rate / LIMIT_PER_SECOND) * 100, 1)} % of ${LIMIT_PER_SECOND}/s); max ${maxWindow} messages and ${maxCallsWindow} other calls in any 1 s; ` +
        `429s ${injected429}, violations ${JSON.stringify(byRule)}; lost ${lost} ${JSON.stringify(lostKinds)} (dead ${dead})`,
    );
    log(
      `burst: lanes (${trackedAccess} invite/removal jobs tracked from commit to start): broadcast ${broadcastBefore} sent before the burst, ${broadcastDuring} more by the end; ${lower.length} lower-lane calls in the window (first at +${firstLower !== undefined ? fmt((firstLower - tBurst) / 1000, 1) : '-'} s), ${overtaking} of them while an invite/removal waited ` +
        `(the last at +${lastOvertake !== undefined ? fmt((lastOvertake - tBurst) / 1000, 2) : '-'} s; longest wait so far when passed ${fmt(longest, 0)} ms; ${JSON.stringify(passes)}); invite/removal limiter wait p50 ${fmt(percentile(accessWaits, 50), 0)} ms, p99 ${fmt(percentile(accessWaits, 99), 0)} ms; ` +
        `worker pool during the burst: access jobs mean ${fmt(mean(accessInPool), 1)} (max ${Math.max(...accessInPool)}), lower-lane jobs holding slots mean ${fmt(mean(lowerInPool), 1)}; ` +
        `${drained ? '' : `projected to finish after ~${fmt(projected, 0)} s (${callsLeft} calls left)`}`,
    );
    if (logger.errors.length) log(`service errors: ${logger.errors.slice(0, 3).join(' | ')}`);

    const d = target.dialect;
    const tag = `(burst ${payments}+${removals})`;
    results.push(
      {
        name: `outbound rate vs ${LIMIT_PER_SECOND}/s limit ${tag}`,
        value: Number(fmt((rate / LIMIT_PER_SECOND) * 100, 1)),
        unit: '%',
        goal: '>= 90',
        met: rate / LIMIT_PER_SECOND >= 0.9,
        dialect: d,
      },
      { name: `outbound messages lost ${tag}`, value: lost, unit: 'msgs', goal: '= 0', met: lost === 0, dialect: d },
      { name: `outbound not yet delivered at ${boundSeconds} s bound ${tag}`, value: pending, unit: 'msgs', goal: 'report', met: null, dialect: d },
      {
        name: `outbound calls above the limit (emulator 429s) ${tag}`,
        value: violations.length,
        unit: 'calls',
        goal: '= 0',
        met: violations.length === 0,
        dialect: d,
      },
      {
        name: `outbound max messages in any 1 s ${tag}`,
        value: maxWindow,
        unit: 'msgs',
        goal: `<= ${LIMIT_PER_SECOND}`,
        met: maxWindow <= LIMIT_PER_SECOND,
        dialect: d,
      },
      {
        name: `outbound max non-message calls in any 1 s ${tag}`,
        value: maxCallsWindow,
        unit: 'calls',
        goal: `<= ${LIMIT_PER_SECOND}`,
        met: maxCallsWindow <= LIMIT_PER_SECOND,
        dialect: d,
      },
      { name: `lower-lane calls sent while invite/removal waited ${tag}`, value: overtaking, unit: 'calls', goal: '= 0', met: overtaking === 0, dialect: d },
      { name: `longest invite/removal wait passed by a lower lane ${tag}`, value: Math.round(longest), unit: 'ms', goal: 'report', met: null, dialect: d },
    );
    if (firstInviteAt === undefined || firstInviteAt - tBurst > 10_000)
      benchNotes.push(`outbound burst ${payments}+${removals} (${target.dialect}): ${firstInvite}, although invites go before removals`);
    if (!drained)
      benchNotes.push(
        `outbound burst ${payments}+${removals} (${target.dialect}): stopped at the ${boundSeconds} s bound with ${pending} messages still queued (durable jobs, not lost); at ${fmt(rate, 1)} calls/s everything would be out after ~${fmt(projected, 0)} s (a first payer's invite costs 2 Bot API calls, a removal 4, a notice 1)`,
      );
    if (!drained)
      results.push({ name: `outbound projected time to deliver all ${tag}`, value: Math.round(projected), unit: 's', goal: 'report', met: null, dialect: d });
  } finally {
    if (!stopped) await service.stop().catch(() => {});
    await opened.close();
    await emu.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
