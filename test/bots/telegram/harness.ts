// A whole service with the Telegram adapter talking to the loopback Bot API emulator. One virtual clock
// drives the service (limiter, worker, expiry) and the emulator's limits, and it only moves when nothing
// is on the wire, so "no call above the limits" is checked to the millisecond while whole days pass in
// seconds of real time.
import { createClaimCode } from '../../../src/app/owners.ts';
import { addPlan } from '../../../src/app/catalog-admin.ts';
import type { Group } from '../../../src/app/model.ts';
import type { Dialect } from '../../../src/store/database.ts';
import type { TelegramAdapter } from '../../../bots/telegram/telegram-adapter.ts';
import { FakeClock, flush } from '../../fakes/fake-clock.ts';
import { type EmulatorLimits, type SentMessage, TelegramEmulator, type User } from '../../fakes/telegram-emulator.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { auth, startTestService, type TestService } from '../../helpers/service.ts';

export const TOKEN = '123456789:AAtest-token_0123456789abcdefghijklmnop';

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Virtual time that waits, after waking each sleeper, until the Bot API calls it let go have been answered.
 * So a call granted by the limiter at virtual time T reaches the emulator at T, never later.
 */
export class SteppedClock extends FakeClock {
  private time: number;
  private waits: Array<{ at: number; resolve: () => void; seq: number }> = [];
  private order = 0;
  /** Waits until nothing is on the wire (set by the harness). */
  quiet: () => Promise<void> = () => flush(3);

  constructor(start = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    super(start);
    this.time = start;
  }

  override now(): number {
    return this.time;
  }

  override sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.waits.push({ at: this.time + Math.max(0, ms), resolve, seq: this.order++ }));
  }

  override async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (let i = 0; i < 1_000_000; i++) {
      // Time never moves while a call is on the wire (no await between this and the move below).
      await this.quiet();
      this.waits.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.waits[0];
      if (!next || next.at > end) break;
      this.waits.shift();
      this.time = Math.max(this.time, next.at);
      next.resolve();
    }
    this.time = end;
    await this.quiet();
  }

  /**
   * Like advance, but without waiting for the calls on the wire to be answered: for a test that holds one
   * open on purpose while the service goes on (the limiter spaces the calls behind it on this clock).
   */
  async advanceWhileHeld(ms: number): Promise<void> {
    const quiet = this.quiet;
    this.quiet = () => flush(3);
    try {
      await this.advance(ms);
    } finally {
      this.quiet = quiet;
    }
  }

  /** Jumps forward without waking anyone; the next advance wakes every sleeper that is due. */
  override set(ms: number): void {
    this.time = ms;
  }

  override get pendingSleepers(): number {
    return this.waits.length;
  }
}

export interface Harness {
  t: TestService;
  db: TestDb;
  emu: TelegramEmulator;
  clock: SteppedClock;
  adapter: TelegramAdapter;
  /** Moves virtual time in steps (and lets real I/O happen) until `cond` holds. */
  until(cond: () => boolean | Promise<boolean>, what: string, opts?: { stepMs?: number; maxSteps?: number }): Promise<void>;
  /** Lets `ms` of virtual time pass in steps. */
  run(ms: number, stepMs?: number): Promise<void>;
  /**
   * scheduler.tick(), with virtual time moving in small steps until it returns: a sweep may call Telegram
   * (getChatMember), and the limiter spaces calls on this clock, so awaiting tick() on a still clock could wait
   * forever for a grant.
   */
  tick(): Promise<void>;
  /** A Telegram user who redeemed an owner claim code in private chat. */
  owner(name: string): Promise<User>;
  /** A group created by `owner`, the bot added as an admin, registered; returns ids. */
  boundGroup(owner: User, title?: string, type?: 'group' | 'supergroup'): Promise<{ chatId: number; group: Group }>;
  plan(groupId: number, price?: string, currency?: string, days?: number, name?: string): Promise<number>;
  /** The usual stage: an owner Olga, her bound supergroup, and a Monthly plan (9.90 CNY, 30 days) for it. */
  groupOnSale(): Promise<{ owner: User; chatId: number; group: Group }>;
  texts(chatId: number): string[];
  /** /start (or another command) → the Monthly plan → QR photo → dev-pay. Returns the order id. */
  buyWithDev(user: User, start?: string, plan?: RegExp, beforePay?: () => void): Promise<string>;
  /** A checkout through the admin API, then dev-pay, without moving the clock (a Bot API call may be held open). Returns the order id. */
  payByApi(userId: number, planId: number, person?: { displayName?: string; locale?: string }): Promise<string>;
  /** Waits for a join link among the messages sent to `user` after the first `after`. */
  inviteLink(user: User, after?: number): Promise<string>;
  /** buyWithDev, then the link, the join request, and waits until the person is in. */
  buyAndJoin(user: User, chatId: number): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  limits?: Partial<EmulatorLimits> | false;
  /** Start the adapter (polling or webhook) right away. */
  start?: boolean;
  /** Before the service is built (webhook mode needs the listening URL in PUBLIC_URL). */
  beforeService?: (emu: TelegramEmulator) => Promise<Record<string, string>>;
  /** Listen on this loopback port before the adapter starts (webhook mode). */
  listenPort?: number;
}

/** How long `until` keeps looking in real time before it gives up (under the 30 s test timeout). */
const UNTIL_MIN_REAL_MS = 15_000;

export async function startTelegram(dialect: Dialect, opts: HarnessOptions = {}): Promise<Harness> {
  const clock = new SteppedClock();
  const emu = await TelegramEmulator.start({ token: TOKEN, clock, limits: opts.limits });
  const db = await openTestDb(dialect);
  const extra = opts.beforeService ? await opts.beforeService(emu) : {};
  const t = await startTestService(
    dialect,
    {
      TELEGRAM_BOT_TOKEN: TOKEN,
      TELEGRAM_API_ROOT: emu.url,
      PAYMENT_PROVIDERS: 'dev,stars',
      // Every Telegram plan has a Stars price (Telegram's rule): derived from this rate when a test sets none.
      STARS_PER_UNIT: 'CNY=7.5,USD=55',
      ALLOW_DEV_PAYMENTS: '1',
      GRACE_HOURS: '24',
      ...opts.env,
      ...extra,
    },
    { db, clock },
  );
  const adapter = t.service.telegram;
  if (!adapter) throw new Error('the service did not build the Telegram adapter');
  adapter.options.pollTimeoutSec = 1;
  adapter.options.stopGraceMs = 300;
  clock.quiet = async () => {
    for (let i = 0; i < 2000; i++) {
      await flush(2);
      if (adapter.client.inFlight === 0) return;
      await realSleep(1);
    }
  };
  t.service.worker.start();
  if (opts.listenPort !== undefined) await t.service.app.listen({ port: opts.listenPort, host: '127.0.0.1' });
  if (opts.start !== false) {
    // Starting makes several Bot API calls in a row (getMe, deleteWebhook or setWebhook): the limiter spaces
    // them (1000/30 ms apart), so virtual time has to move while they go out.
    let started = false;
    const starting = adapter.start().finally(() => (started = true));
    for (let i = 0; i < 2000 && !started; i++) {
      await realSleep(1);
      if (!started) await clock.advance(50);
    }
    await starting;
  }

  const until: Harness['until'] = async (cond, what, o = {}) => {
    const step = o.stepMs ?? 200;
    const max = o.maxSteps ?? 1500;
    const started = Date.now();
    for (let i = 0; i < max; i++) {
      if (await cond()) return;
      await realSleep(i < 20 ? 2 : 5);
      await clock.advance(step);
    }
    // The virtual budget is spent, but on a loaded machine the service may still be working through real
    // time (a long poll, a database round trip): give it real seconds, without moving the clock further.
    while (Date.now() - started < UNTIL_MIN_REAL_MS) {
      if (await cond()) return;
      await realSleep(50);
    }
    throw new Error(`timed out waiting for: ${what}`);
  };

  /** The dev provider's pay page, as the payer's browser would post it. */
  const devPay = async (orderId: string) => {
    const paid = await t.service.app.inject({
      method: 'POST',
      url: `/pay/${orderId}/dev-pay`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    if (paid.statusCode !== 303) throw new Error(`dev-pay answered ${paid.statusCode}`);
  };
  const h: Harness = {
    t,
    db,
    emu,
    clock,
    adapter,
    until,
    async tick() {
      let done = false;
      const ticking = t.service.scheduler.tick().finally(() => (done = true));
      for (let i = 0; i < 20_000 && !done; i++) {
        await realSleep(1);
        // A test may hold a call open on purpose: time moves on regardless, in steps far below the limiter's margin.
        if (!done) await clock.advanceWhileHeld(5);
      }
      await ticking;
    },
    async run(ms, stepMs = 200) {
      for (let done = 0; done < ms; done += stepMs) {
        await realSleep(2);
        await clock.advance(Math.min(stepMs, ms - done));
      }
    },
    async owner(name) {
      const user = emu.addUser(name, { language_code: 'en' });
      const { code } = await createClaimCode(t.service.deps, { kind: 'admin', via: 'cli' });
      emu.sendText(user, code);
      await until(() => h.texts(user.id).some((x) => x.includes('You are now an owner')), `${name} becomes an owner`);
      return user;
    },
    async boundGroup(owner, title = 'Readers club', type = 'supergroup') {
      const chatId = emu.createGroup({ title, type, creator: owner });
      emu.addBot(chatId, owner);
      let group: Group | null = null;
      await until(async () => (group = await t.service.deps.store.groups.findByChat('telegram', String(chatId))) !== null, `group ${title} registered`);
      await until(
        () =>
          h.texts(owner.id).some((x) => x.includes(`All set`) && x.includes(title)) && h.texts(owner.id).some((x) => x.includes(`I now look after "${title}"`)),
        `owner told ${title} is ready`,
      );
      return { chatId, group: group! };
    },
    async plan(groupId, price = '9.90', currency = 'CNY', days = 30, name = 'Monthly') {
      const p = await addPlan(t.service.deps, { groupIds: [groupId], name, price, currency, days, actor: { kind: 'admin', via: 'cli' } });
      return p.id;
    },
    async groupOnSale() {
      const owner = await h.owner('Olga');
      const { chatId, group } = await h.boundGroup(owner);
      await h.plan(group.id);
      return { owner, chatId, group };
    },
    texts(chatId) {
      return emu.messagesTo(chatId).map((m: SentMessage) => m.text ?? m.caption ?? '');
    },
    async buyWithDev(user, start = '/start', plan = /^Monthly/, beforePay) {
      const before = emu.messagesTo(user.id).length;
      emu.sendText(user, start);
      await until(
        () =>
          emu
            .messagesTo(user.id)
            .slice(before)
            .some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.callback_data?.startsWith('plan:'))),
        'plan buttons',
      );
      emu.press(user, plan);
      // A Telegram plan is offered with Stars too, so the rails are a choice: the test pays with the dev rail.
      const sent = () => emu.messagesTo(user.id).slice(before);
      const picker = () => sent().some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.callback_data?.startsWith('pay:')));
      await until(() => sent().some((m) => m.photo) || picker(), 'the QR photo or the choice of rails');
      if (!sent().some((m) => m.photo)) {
        emu.press(user, 'Test payment');
        await until(() => sent().some((m) => m.photo), 'the QR photo');
      }
      const photo = emu
        .messagesTo(user.id)
        .slice(before)
        .find((m) => m.photo)!;
      const url = buttonUrl(photo);
      if (!url) throw new Error('the QR photo has no pay button');
      const orderId = url.split('/').pop()!;
      beforePay?.();
      await devPay(orderId);
      return orderId;
    },
    async payByApi(userId, planId, person = {}) {
      const c = await t.service.app.inject({
        method: 'POST',
        url: '/api/checkouts',
        headers: auth,
        payload: { platform: 'telegram', userId: String(userId), planId, provider: 'dev', ...person },
      });
      if (c.statusCode !== 201) throw new Error(`checkout answered ${c.statusCode}: ${c.body}`);
      const orderId = (c.json() as { orderId: string }).orderId;
      await devPay(orderId);
      return orderId;
    },
    async inviteLink(user, after = 0) {
      const find = () =>
        emu
          .messagesTo(user.id)
          .slice(after)
          .find((m) => buttonUrl(m)?.startsWith('https://t.me/+'));
      await until(() => find() !== undefined, `an invite link for ${user.first_name}`);
      return buttonUrl(find())!;
    },
    async buyAndJoin(user, chatId) {
      const before = emu.messagesTo(user.id).length;
      await h.buyWithDev(user);
      const link = await h.inviteLink(user, before);
      if (emu.joinViaLink(user, link) !== 'requested') throw new Error('the link did not make a join request');
      await until(() => emu.isMember(chatId, user.id), `${user.first_name} in the group`);
    },
    async close() {
      // Jobs waiting for the limiter need time to move while the service stops.
      let stopped = false;
      const stopping = t.close().finally(() => (stopped = true));
      for (let i = 0; i < 2000 && !stopped; i++) {
        await realSleep(2);
        await clock.advance(1000);
      }
      await stopping;
      await db.close();
      await emu.close();
    },
  };
  return h;
}

/** The URL of the first URL button in a message. */
/** A free loopback port (for a webhook the emulator can reach). */
export { freePort } from '../../helpers/net.ts';

export const buttonUrl = (m: SentMessage | undefined) => m?.reply_markup?.inline_keyboard.flat().find((b) => b.url)?.url;
