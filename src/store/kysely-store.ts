// The Store port over kysely: binds every repository function to one connection or one transaction.
import type { Kysely } from 'kysely';
import type { TelegramRepo, TelegramStore } from '../../bots/telegram/store-port.ts';
import type { WechatRepo, WechatStore } from '../../bots/wechat/store-port.ts';
import type { Repos, Store } from '../app/ports.ts';
import { findAccount, getAccount, getDialogue, setDialogue, upsertAccount } from './accounts-repository.ts';
import { digestsRepo, referralsRepo } from './referrals-repository.ts';
import { getClockOffset, setClockOffset } from './clock-repository.ts';
import { claimAccessChecks, getMembershipAccess, setMembershipAccess, takeOwnerAlert } from './access-repository.ts';
import {
  closeAttempt,
  consumeOauthState,
  getAttempt,
  getOauthState,
  getPayerOpenid,
  insertAttemptIfAbsent,
  insertOauthState,
  listAttempts,
  markAttemptPaid,
  markAttemptRefunded,
  setAttemptPrepay,
  setPayerOpenid,
} from './attempts-repository.ts';
import { insertAudit, insertAudits, listAudit, pageAudit } from './audit-repository.ts';
import { type OpenedDatabase, ping } from './database.ts';
import { findGroupByChat, getGroup, insertGroup, listGroups, updateGroupSettings } from './groups-repository.ts';
import {
  buryJob,
  claimJobs,
  countDueBetterJobs,
  completeJob,
  countJobsByKind,
  countJobsByStatus,
  countJobsWaitingForAdapter,
  enqueueJobs,
  extendJobLease,
  getJob,
  listDeadJobs,
  listJobs,
  requeueDeadJob,
  retryJob,
} from './jobs-repository.ts';
import {
  expireDueMemberships,
  getMembership,
  getMembershipForUpdate,
  insertMembership,
  insertMembershipIfAbsent,
  insertPeriod,
  insertPeriodIfAbsent,
  lapseDueMemberships,
  listMemberships,
  listPeriods,
  listPeriodsForOrder,
  markReminded,
  pageMemberships,
  remindersDue,
  reschedulePeriod,
  revokePeriod,
  updateMembership,
} from './memberships-repository.ts';
import {
  expireDueOrders,
  findOrderByOutTradeNo,
  getOrder,
  getOrderForUpdate,
  insertOrder,
  ordersToReconcile,
  pageOrders,
  payOrderIfExpected,
  setOrderCheckout,
  transitionOrder,
} from './orders-repository.ts';
import { getClaim, getScope, grantScope, insertClaim, listOwners, redeemClaim, setOwner } from './owners-repository.ts';
import {
  countActiveMembers,
  countChurn,
  countExpiring,
  countHeldOrders,
  countMembersByStatus,
  countNewMembers,
  countOrdersByStatus,
  countRenewals,
  countWebhookOutcomes,
  planSales,
  refundsOnRequest,
  revenueByCurrency,
} from './stats-repository.ts';
import {
  insertPaymentIfAbsent,
  insertWebhookEventIfAbsent,
  listPaymentsForOrder,
  orderOfCharge,
  purgeWebhookPayloads,
  refundedByOrder,
  setWebhookOutcome,
} from './payments-repository.ts';
import { getPlan, getPlanWithGroups, insertPlan, listPlans, setPlanActive, setPlanPrice } from './plans-repository.ts';
import { reviewRepo } from './review-repository.ts';
import { refundRequestsRepo } from './refund-requests-repository.ts';
import { consoleRepo } from './console-repository.ts';
import { broadcastsRepo } from './broadcasts-repository.ts';
import { couponsRepo, trialsRepo } from './growth-repository.ts';
import { subscriptionsRepo } from './subscriptions-repository.ts';
import { rosterRepo } from './roster-repository.ts';
import type { Database } from './schema.ts';
import { telegramRepo } from './telegram-repository.ts';
import { wechatRepo } from './wechat-repository.ts';

function bind(db: Kysely<Database>, dialect: OpenedDatabase['dialect']): Repos {
  return {
    accounts: {
      upsert: (a, now) => upsertAccount(db, a, now),
      get: (id) => getAccount(db, id),
      find: (p, u) => findAccount(db, p, u),
      setOwner: (id) => setOwner(db, id),
      listOwners: () => listOwners(db),
    },
    ownerClaims: {
      insert: (h, now, exp, g) => insertClaim(db, h, now, exp, g),
      get: (h) => getClaim(db, h),
      redeem: (h, a, now) => redeemClaim(db, h, a, now),
    },
    ownerScopes: {
      grant: (a, g, src, now) => grantScope(db, a, g, src, now),
      get: (a) => getScope(db, a),
    },
    groups: {
      insert: (g, now) => insertGroup(db, g, now),
      get: (id) => getGroup(db, id),
      findByChat: (p, c) => findGroupByChat(db, p, c),
      list: () => listGroups(db),
      updateSettings: (id, p) => updateGroupSettings(db, id, p),
    },
    review: reviewRepo(db),
    roster: rosterRepo(db),
    refundRequests: refundRequestsRepo(db),
    referrals: referralsRepo(db),
    digests: digestsRepo(db),
    console: consoleRepo(db),
    broadcasts: broadcastsRepo(db),
    trials: trialsRepo(db),
    coupons: couponsRepo(db),
    subscriptions: subscriptionsRepo(db),
    plans: {
      insert: (p, now) => insertPlan(db, p, now),
      get: (id) => getPlan(db, id),
      getWithGroups: (id) => getPlanWithGroups(db, id),
      list: (o) => listPlans(db, o),
      setActive: (id, a) => setPlanActive(db, id, a),
      setPrice: (id, p) => setPlanPrice(db, id, p),
    },
    orders: {
      insert: (o) => insertOrder(db, o),
      get: (id) => getOrder(db, id),
      findByOutTradeNo: (n) => findOrderByOutTradeNo(db, n),
      getForUpdate: (id) => getOrderForUpdate(db, dialect, id),
      transition: (id, from, to, patch, now) => transitionOrder(db, id, from, to, patch, now),
      payIfExpected: (q, patch, now) => payOrderIfExpected(db, q, patch, now),
      setCheckout: (id, c, now) => setOrderCheckout(db, id, c, now),
      expireDue: (now, limit) => expireDueOrders(db, dialect, now, limit),
      toReconcile: (q) => ordersToReconcile(db, q),
      page: (q) => pageOrders(db, q),
    },
    attempts: {
      insertIfAbsent: (a, now) => insertAttemptIfAbsent(db, a, now),
      get: (n) => getAttempt(db, n),
      listForOrder: (id) => listAttempts(db, id),
      setPrepay: (n, p) => setAttemptPrepay(db, n, p),
      close: (n, now) => closeAttempt(db, n, now),
      markPaid: (n, p) => markAttemptPaid(db, n, p),
      markRefunded: (n, r, now) => markAttemptRefunded(db, n, r, now),
    },
    oauth: {
      insertState: (s, now) => insertOauthState(db, s, now),
      getState: (s) => getOauthState(db, s),
      consumeState: (s, o, now) => consumeOauthState(db, s, o, now),
      getOpenid: (a, app) => getPayerOpenid(db, a, app),
      setOpenid: (a, app, o, now) => setPayerOpenid(db, a, app, o, now),
    },
    payments: {
      insertIfAbsent: (p, now) => insertPaymentIfAbsent(db, p, now),
      listForOrder: (id) => listPaymentsForOrder(db, id),
      refundedByOrder: (ids) => refundedByOrder(db, ids),
      orderOfCharge: (provider, txn) => orderOfCharge(db, provider, txn),
    },
    webhookEvents: {
      insertIfAbsent: (e, now) => insertWebhookEventIfAbsent(db, e, now),
      setOutcome: (p, e, o, orderId) => setWebhookOutcome(db, p, e, o, orderId),
      purgePayloads: (before, limit) => purgeWebhookPayloads(db, before, limit),
    },
    memberships: {
      getForUpdate: (a, g) => getMembershipForUpdate(db, dialect, a, g),
      get: (id) => getMembership(db, id),
      insert: (m, now) => insertMembership(db, m, now),
      insertIfAbsent: (m, now) => insertMembershipIfAbsent(db, m, now),
      update: (id, p, now) => updateMembership(db, id, p, now),
      list: (f) => listMemberships(db, f),
      lapseDue: (now, limit, min) => lapseDueMemberships(db, dialect, now, limit, min),
      expireDue: (now, limit) => expireDueMemberships(db, dialect, now, limit),
      remindersDue: (q) => remindersDue(db, q),
      markReminded: (ids, o, now) => markReminded(db, ids, o, now),
      page: (q) => pageMemberships(db, q),
      claimAccessChecks: (q) => claimAccessChecks(db, dialect, q),
      setAccess: (id, p) => setMembershipAccess(db, id, p),
      getAccess: (id) => getMembershipAccess(db, id),
    },
    ownerAlerts: {
      take: (a, k, now, w) => takeOwnerAlert(db, a, k, now, w),
    },
    periods: {
      insert: (p, now) => insertPeriod(db, p, now),
      insertIfAbsent: (p, now) => insertPeriodIfAbsent(db, p, now),
      listForMembership: (id) => listPeriods(db, id),
      listForOrder: (id) => listPeriodsForOrder(db, id),
      revoke: (id, now) => revokePeriod(db, id, now),
      reschedule: (id, s, e) => reschedulePeriod(db, id, s, e),
    },
    jobs: {
      enqueue: (j, now) => enqueueJobs(db, j, now),
      claim: (w, now, lease, limit, platforms, lanes) => claimJobs(db, dialect, w, now, lease, limit, platforms, lanes),
      countDueBetter: (now, below, limit, platforms) => countDueBetterJobs(db, now, below, limit, platforms),
      waitingForAdapter: (configured) => countJobsWaitingForAdapter(db, configured),
      complete: (id, w, now) => completeJob(db, id, w, now),
      extendLease: (id, w, until) => extendJobLease(db, id, w, until),
      retry: (id, w, runAt, err, count, now) => retryJob(db, id, w, runAt, err, count, now),
      bury: (id, w, err, now) => buryJob(db, id, w, err, now),
      list: (f) => listJobs(db, f),
      countByStatus: () => countJobsByStatus(db),
      get: (id) => getJob(db, id),
      listDead: (q) => listDeadJobs(db, q),
      countByKind: () => countJobsByKind(db),
      requeueDead: (id, now) => requeueDeadJob(db, id, now),
    },
    audit: {
      insert: (e) => insertAudit(db, e),
      insertMany: (e) => insertAudits(db, e),
      list: (f) => listAudit(db, f),
      page: (q) => pageAudit(db, q),
    },
    clock: {
      offset: () => getClockOffset(db),
      setOffset: (ms, now) => setClockOffset(db, ms, now),
    },
    dialogue: {
      get: (id) => getDialogue(db, id),
      set: (id, st, now) => setDialogue(db, id, st, now),
    },
    stats: {
      activeMembers: (g) => countActiveMembers(db, g),
      membersByStatus: () => countMembersByStatus(db),
      revenueByCurrency: (f, t, g) => revenueByCurrency(db, f, t, g),
      newMembers: (f, t, g) => countNewMembers(db, f, t, g),
      renewals: (f, t, g) => countRenewals(db, f, t, g),
      churn: (f, t, g) => countChurn(db, f, t, g),
      expiring: (f, t, g) => countExpiring(db, f, t, g),
      heldOrders: (g) => countHeldOrders(db, g),
      planSales: (g) => planSales(db, g),
      refundsOnRequest: (f, t, g) => refundsOnRequest(db, f, t, g),
      ordersByStatus: () => countOrdersByStatus(db),
      webhookOutcomes: () => countWebhookOutcomes(db),
    },
  };
}

/** The core repos plus the adapters' own tables, all on one connection or one transaction. */
export interface KyselyRepos extends Repos {
  telegram: TelegramRepo;
  wechat: WechatRepo;
}

/**
 * The Store over kysely. app/ sees it as a Store; the chat adapters see it as their TelegramStore or
 * WechatStore (store-port.ts in bots/telegram and bots/wechat), which add their own tables, inside transactions too.
 */
export interface KyselyStore extends Store, TelegramStore, WechatStore {
  telegram: TelegramRepo;
  wechat: WechatRepo;
  transaction<T>(fn: (tx: KyselyRepos) => Promise<T>): Promise<T>;
}

function bindAll(db: Kysely<Database>, dialect: OpenedDatabase['dialect']): KyselyRepos {
  return { ...bind(db, dialect), telegram: telegramRepo(db), wechat: wechatRepo(db) };
}

export function createStore(opened: OpenedDatabase): KyselyStore {
  const { db, dialect } = opened;
  const store: KyselyStore = {
    ...bindAll(db, dialect),
    dialect,
    transaction: (fn) => db.transaction().execute((trx) => fn(bindAll(trx, dialect))),
    storageState: () => {
      // SQLite: the path must still name the file we have open, or every write goes into a file that
      // nobody will read again (deleted) or that is no longer the database (replaced).
      const file = opened.fileState?.();
      if (!file || file.state === 'ok') return { state: 'ok' };
      return { state: file.state, message: `the database file ${file.path} was ${file.state} while the service runs; restore it and restart the service` };
    },
    ping: async () => {
      const file = store.storageState();
      if (file.state !== 'ok') throw new Error(file.message);
      await ping(db);
    },
    close: () => opened.close(),
  };
  return store;
}
