// A whole service with the WeChat adapter on a wechaty-puppet-mock (extended to behave like WeChat), a
// fake clock (the limiter and the jobs run in virtual time) and a test database. The production path
// is configured (WECHATY_PUPPET_SERVICE_TOKEN is set, so the dev provider needs ALLOW_DEV_PAYMENTS=1 and
// the playground is off); only the Wechaty itself is injected.
import { log, WechatyBuilder } from 'wechaty';
import * as PUPPET from 'wechaty-puppet';
import { mock } from 'wechaty-puppet-mock';
import type { WechatAdapter } from '../../../bots/wechat/wechat-adapter.ts';
import type { WechatSettings } from '../../../bots/wechat/wechat-context.ts';
import type { Account, Group } from '../../../src/app/model.ts';
import { createClaimCode } from '../../../src/app/owners.ts';
import { loadConfig } from '../../../src/config.ts';
import type { Dialect } from '../../../src/store/database.ts';
import { createService, type Service } from '../../../src/service.ts';
import { FakeClock, flush } from '../../fakes/fake-clock.ts';
import { type ContactMock, ExtendedPuppetMock, type RoomMock } from '../../fakes/wechaty-mock-extensions.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { ADMIN_TOKEN, auth, DEV_SECRET, memoryLogger } from '../../helpers/service.ts';

log.level('silent');

export { auth };
export const STEP_MS = 250;

export interface World {
  db: TestDb;
  clock: FakeClock;
  service: Service;
  adapter: WechatAdapter;
  mocker: InstanceType<typeof mock.Mocker>;
  puppet: ExtendedPuppetMock;
  botUser: ContactMock;
  logger: ReturnType<typeof memoryLogger>;
  printedQr: string[];
  close(): Promise<void>;
}

export async function startWorld(
  dialect: Dialect,
  opts: { env?: Record<string, string>; settings?: Partial<WechatSettings>; login?: boolean } = {},
): Promise<World> {
  const db = await openTestDb(dialect);
  const clock = new FakeClock();
  const mocker = new mock.Mocker();
  const puppet = new ExtendedPuppetMock(mocker, () => clock.now());
  const logger = memoryLogger();
  const printedQr: string[] = [];
  const config = loadConfig({
    DATA_DIR: '/nonexistent-test-data-dir',
    DATABASE_URL: db.url,
    ADMIN_TOKEN,
    DEV_PAY_SECRET: DEV_SECRET,
    PUBLIC_URL: 'http://gk.test',
    PAYMENT_PROVIDERS: 'dev',
    ALLOW_DEV_PAYMENTS: '1',
    WECHATY_PUPPET_SERVICE_TOKEN: 'puppet-token-never-used-in-tests',
    GRACE_HOURS: '24',
    ...opts.env,
  });
  const service = await createService({
    config,
    adminToken: ADMIN_TOKEN,
    devPaySecret: DEV_SECRET,
    store: db.store,
    clock,
    logger,
    worker: { random: () => 0.5 },
    wechat: { createWechaty: () => WechatyBuilder.build({ puppet }), printQr: (qr) => printedQr.push(qr), settings: { auditIntervalMs: 0, ...opts.settings } },
  });
  const adapter = service.wechat!;
  await adapter.start();
  const botUser = mocker.createContact({ name: 'Gatekeeper Bot' });
  const world: World = {
    db,
    clock,
    service,
    adapter,
    mocker,
    puppet,
    botUser,
    logger,
    printedQr,
    async close() {
      await service.stop();
      await db.close();
    },
  };
  if (opts.login !== false) await loginBot(world);
  return world;
}

/** The scan → login sequence a real puppet goes through. */
export async function loginBot(w: World) {
  w.mocker.scan('https://login.weixin.qq.com/l/test-qr-1', PUPPET.types.ScanStatus.Waiting);
  w.mocker.login(w.botUser);
  await waitFor(() => w.adapter.login.loggedIn, 'bot logged in');
}

/** Real-time wait for something driven by Wechaty's own event loop work (bounded). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, maxRounds = 400): Promise<void> {
  for (let i = 0; i < maxRounds; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

async function dueJobs(w: World): Promise<number> {
  const now = w.clock.now();
  return (await w.db.store.jobs.list({ status: 'queued' })).filter((j) => j.runAt <= now).length;
}

/**
 * Runs everything that is due: jobs (the worker), event handlers, the limiter, moving the fake clock in
 * small steps so paced sends go out. Stops when nothing is in flight and no job is due (and `until`
 * holds, when given). Bounded.
 */
export async function settle(w: World, opts: { until?: () => boolean | Promise<boolean>; maxSteps?: number } = {}): Promise<void> {
  const max = opts.maxSteps ?? 2000;
  let draining: Promise<unknown> | null = null;
  for (let i = 0; i < max; i++) {
    if (!draining) {
      const d: Promise<unknown> = w.service.worker.drain(50).finally(() => {
        if (draining === d) draining = null;
      });
      draining = d;
    }
    await flush(5);
    await new Promise((r) => setTimeout(r, 1));
    const busy = draining !== null || w.adapter.busy || w.service.limiter.pending > 0;
    if (!busy && (await dueJobs(w)) === 0 && (!opts.until || (await opts.until()))) return;
    await w.clock.advance(STEP_MS);
  }
  throw new Error('settle: still busy after the step budget');
}

/** A person says something to the bot in private chat, and everything it causes runs. */
export async function say(w: World, from: ContactMock, text: string, opts: { settle?: boolean } = {}) {
  from.say(text).to(w.botUser);
  await new Promise((r) => setTimeout(r, 5));
  if (opts.settle !== false) await settle(w);
}

/** A person (friend of the bot) and their account once they wrote. */
export function person(w: World, name: string, extra: Record<string, unknown> = {}): ContactMock {
  return w.mocker.createContact({ name, friend: true, type: PUPPET.types.Contact.Individual, alias: undefined, ...extra });
}

/** A room the bot owns, with these members (the bot is added). */
export function botRoom(w: World, topic: string, members: ContactMock[] = [], owner?: ContactMock): RoomMock {
  return w.mocker.createRoom({ topic, ownerId: (owner ?? w.botUser).id, adminIdList: [], memberIdList: [w.botUser.id, ...members.map((m) => m.id)] } as never);
}

/** An owner: redeems a claim code from private chat, like `gatekeeper owner claim` + sending it. */
export async function makeOwner(w: World, contact: ContactMock): Promise<Account> {
  const { code } = await createClaimCode(w.service.deps, { kind: 'admin', via: 'cli' });
  await say(w, contact, code);
  const a = await w.db.store.accounts.find('wechat', contact.id);
  if (!a?.isOwner) throw new Error('owner claim did not work');
  return a;
}

/** The owner binds a room with /bind and adds a 30-day plan with /addplan: the real owner flow. */
export async function bindWithPlan(w: World, owner: ContactMock, room: RoomMock, price = '9.90'): Promise<{ group: Group; planId: number }> {
  owner.say('/bind').to(room);
  await new Promise((r) => setTimeout(r, 5));
  await settle(w);
  const group = await w.db.store.groups.findByChat('wechat', room.id);
  if (!group) throw new Error(`bind failed: ${w.puppet.textsTo(owner.id).join(' | ')}`);
  await say(w, owner, `/addplan ${group.id} ${price} CNY 30 Monthly`);
  const plan = (await w.db.store.plans.list({ groupId: group.id }))[0];
  if (!plan) throw new Error(`addplan failed: ${w.puppet.textsTo(owner.id).join(' | ')}`);
  return { group, planId: plan.id };
}

/** Pays an order through the dev provider's pay page, as the member would. */
export async function devPay(w: World, orderId: string) {
  const r = await w.service.app.inject({
    method: 'POST',
    url: `/pay/${orderId}/dev-pay`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: '',
  });
  if (r.statusCode !== 303) throw new Error(`dev-pay: ${r.statusCode} ${r.body}`);
}

/** The order id in the last pay link the bot sent to this person. */
export function lastPayLink(w: World, contactId: string): string {
  const texts = w.puppet.textsTo(contactId);
  for (let i = texts.length - 1; i >= 0; i--) {
    const m = /http:\/\/gk\.test\/pay\/([A-Za-z0-9_-]+)/.exec(texts[i]!);
    if (m) return m[1]!;
  }
  throw new Error('no pay link sent');
}

/** A member buys the first plan: 入群, "1", pays on the pay page; everything it causes runs. */
export async function buy(w: World, member: ContactMock): Promise<string> {
  await say(w, member, '入群');
  await say(w, member, '1');
  const orderId = lastPayLink(w, member.id);
  await devPay(w, orderId);
  await settle(w);
  return orderId;
}

/** Several people at once (e.g. to make a room of more than 40). */
export function people(w: World, n: number, prefix = 'Member'): ContactMock[] {
  return Array.from({ length: n }, (_, i) => person(w, `${prefix} ${i + 1}`));
}
