// Wires concrete adapters into one running service. main.ts uses it with the real clock; tests and the
// benchmark use it with a fake clock and their own gateways. Nothing here listens or starts timers
// until start() is called.
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { PlaygroundGateway } from '../bots/playground/playground-gateway.ts';
import { playgroundRoutes, timeTravelAllowed } from '../bots/playground/playground-routes.ts';
import { telegramBotStanding } from '../bots/telegram/bot-standing.ts';
import type { TelegramStore } from '../bots/telegram/store-port.ts';
import type { TelegramAdapter, TelegramAdapterOptions } from '../bots/telegram/telegram-adapter.ts';
import { wechatBotStanding } from '../bots/wechat/bot-standing.ts';
import type { WechatStore } from '../bots/wechat/store-port.ts';
import type { WechatAdapter, WechatAdapterOptions } from '../bots/wechat/wechat-adapter.ts';
import { OffsetClock } from './app/clocks.ts';
import type { AppDeps } from './app/deps.ts';
import { createJobHandlers } from './app/job-handlers.ts';
import type { Platform } from './app/model.ts';
import type { ChatGateway, Clock, Logger, PaymentProvider } from './app/ports.ts';
import { appSettings, type Config } from './config.ts';
import { createCatalog } from './conversation/catalog.ts';
import { createConversation } from './conversation/engine.ts';
import type { Conversation } from './conversation/types.ts';
import { buildApp } from './http/app.ts';
import type { HttpDeps } from './http/deps.ts';
import { MpOauth } from './payments/wechatpay/mp-oauth.ts';
import { Leader, type LeaderLock } from './jobs/leader.ts';
import { DEFAULT_LIMITS, OutboundLimiter } from './jobs/outbound-limiter.ts';
import { Scheduler, startCron } from './jobs/scheduler.ts';
import { PriorityGate } from './jobs/priority-gate.ts';
import { Worker, type WorkerOptions } from './jobs/worker.ts';
import { DevProvider } from './payments/dev/dev-provider.ts';
import { createPaymentProviders } from './payments/registry.ts';

/**
 * The store the service runs on: the core Store app/ uses, plus each chat adapter's own tables
 * (src/store's KyselyStore is one). app/ sees only the Store part; each adapter gets its own view.
 */
export type ServiceStore = TelegramStore & WechatStore;

/** The use-case deps, with the store the adapters need too. */
export interface ServiceDeps extends AppDeps {
  store: ServiceStore;
}

export interface ServiceOptions {
  config: Config;
  adminToken: string;
  devPaySecret: string;
  store: ServiceStore;
  clock: Clock;
  logger: Logger;
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  gateways?: ChatGateway[];
  /** Extra or replacement providers (tests inject emulator-backed ones). */
  providers?: PaymentProvider[];
  worker?: WorkerOptions;
  /** The dialogue engine; createConversation(deps) unless a test brings its own. */
  conversation?: Conversation;
  /** WeChat: a test brings its own Wechaty (around wechaty-puppet-mock); production builds it from config.wechat. */
  wechat?: Pick<WechatAdapterOptions, 'createWechaty' | 'printQr' | 'settings'>;
  /**
   * Several instances on PostgreSQL: the lock deciding which one runs the WeChat puppet (one login per
   * account). main.ts passes a PostgreSQL advisory lock; without one (SQLite: one instance) WeChat
   * simply starts with the service.
   */
  wechatLock?: LeaderLock;
  /** Telegram: timing knobs (tests shorten them); the adapter itself starts only when TELEGRAM_BOT_TOKEN is set. */
  telegram?: Partial<Pick<TelegramAdapterOptions, 'pollTimeoutSec' | 'requestTimeoutMs' | 'webhookAnswerMs' | 'stopGraceMs'>>;
}

export interface Service {
  deps: ServiceDeps;
  app: FastifyInstance;
  worker: Worker;
  scheduler: Scheduler;
  limiter: OutboundLimiter;
  devProvider: DevProvider | undefined;
  conversation: Conversation;
  /** The web playground's chat platform when PLAYGROUND is on (its inbox and rosters back /playground). */
  playground: PlaygroundGateway | undefined;
  /** The WeChat adapter, when WECHATY_PUPPET_SERVICE_TOKEN is set (or a test gives one). */
  wechat: WechatAdapter | undefined;
  /** With a wechatLock: runs the WeChat puppet on this instance only while it holds the lock. */
  wechatLeader: Leader | undefined;
  /** The Telegram adapter, when TELEGRAM_BOT_TOKEN is set. */
  telegram: TelegramAdapter | undefined;
  /** Starts the worker loop and the cron schedule (not the HTTP listener). */
  start(): void;
  stop(): Promise<void>;
}

/** JSAPI's web authorization; its `state` key is derived from the AppSecret, so every instance shares it with nothing generated. */
function wechatMpOf(config: ServiceOptions['config']): HttpDeps['wechatMp'] {
  const mp = config.phonePay.wechatMp;
  if (!mp) return undefined;
  return { oauth: new MpOauth(mp), stateSecret: createHmac('sha256', 'gatekeeper oauth state v1').update(mp.secret).digest('hex') };
}

export async function createService(o: ServiceOptions): Promise<Service> {
  const { config } = o;
  const providers = new Map<string, PaymentProvider>(createPaymentProviders({ config, clock: o.clock, devPaySecret: o.devPaySecret }).map((p) => [p.name, p]));
  for (const p of o.providers ?? []) providers.set(p.name, p);
  const devProvider = providers.get('dev') instanceof DevProvider ? (providers.get('dev') as DevProvider) : undefined;

  const limiter = new OutboundLimiter(o.clock, {
    ...DEFAULT_LIMITS,
    telegram: { ...DEFAULT_LIMITS.telegram, ...config.limits.telegram },
    wechat: { ...DEFAULT_LIMITS.wechat, ...config.limits.wechat },
  });

  // eslint-disable-next-line prefer-const -- assigned once below, after the deps it needs; `deps` reads it later
  let worker: Worker | undefined;
  const deps: ServiceDeps = {
    store: o.store,
    clock: o.clock,
    providers,
    gateways: new Map<Platform, ChatGateway>((o.gateways ?? []).map((g) => [g.platform, g])),
    messages: createCatalog({ defaultLocale: config.defaultLocale, timeZone: config.tzDisplay }),
    logger: o.logger,
    settings: appSettings(config),
    onJobsEnqueued: () => worker?.notify(),
  };
  // The playground is a chat platform of its own; a gateway given for 'playground' (tests) wins.
  const playground = config.playground ? new PlaygroundGateway(limiter, o.clock) : undefined;
  if (playground && !deps.gateways.has('playground')) deps.gateways.set('playground', playground);

  const conversation = o.conversation ?? createConversation(deps);
  // WeChat (Wechaty): its gateway, a job handler (intruder removal), sweeps (add time-outs, roster audit), admin routes.
  // eslint-disable-next-line prefer-const -- assigned once below; `mayRun` reads it later
  let wechatLeader: Leader | undefined;
  const mayRun = o.wechatLock ? () => wechatLeader?.isLeader === true : undefined;
  // The adapters are imported only when their platform is configured: wechaty and telegraf take seconds
  // to load, which a playground-only service (and every test that builds one) should not pay.
  const wechat =
    config.wechat || o.wechat
      ? (await import('../bots/wechat/wechat-adapter.ts')).createWechatAdapter({
          deps,
          limiter,
          conversation,
          adminToken: o.adminToken,
          config: config.wechat,
          mayRun,
          ...o.wechat,
        })
      : undefined;
  if (wechat && !deps.gateways.has('wechat')) deps.gateways.set('wechat', wechat.gateway);
  // Telegram (telegraf): its gateway, the `stars` provider when enabled, a job handler (intruder removal), its webhook route.
  const telegram = config.telegram
    ? (await import('../bots/telegram/telegram-adapter.ts')).createTelegramAdapter({
        deps,
        limiter,
        conversation,
        clock: o.clock,
        logger: o.logger,
        options: { ...config.telegram, webhookUrl: `${config.publicUrl}/webhooks/telegram`, stars: config.paymentProviders.includes('stars'), ...o.telegram },
      })
    : undefined;
  if (telegram && !deps.gateways.has('telegram')) deps.gateways.set('telegram', telegram.gateway);
  if (telegram?.stars && !providers.has('stars')) providers.set('stars', telegram.stars);
  const jobHandlers = createJobHandlers(deps);
  // One registry of job kinds (src/app/job-handlers.ts); the roster's removal is one of them, for every platform.
  // A worker claims only jobs for the chat platforms running here: WeChat only while this instance holds
  // the WeChat lock, so a paid member's WeChat invite is never parked by an instance that cannot send it.
  const platformsHere = (): Platform[] => [...deps.gateways.keys()].filter((p) => p !== 'wechat' || mayRun === undefined || mayRun());
  // Webhooks before jobs on the shared database: the route holds the gate, the worker waits for it (bounded).
  const webhookGate = new PriorityGate();
  worker = new Worker(o.store, o.clock, jobHandlers, o.logger, { platforms: platformsHere, priority: webhookGate, ...o.worker });
  const scheduler = new Scheduler(deps, wechat?.sweeps);
  // Time travel moves the service clock itself, so it needs an OffsetClock as that clock, and a
  // configuration with nothing real attached (main.ts only passes one then; this checks again).
  const timeTravel = o.clock instanceof OffsetClock && timeTravelAllowed(config) ? o.clock : null;
  // The stored offset is the one "now" the service and the CLI share: a playground that travelled keeps
  // its time across a restart; a service that cannot travel (something real attached) runs on real time
  // and clears an offset left behind, so the CLI counts from real time too.
  const storedOffset = await o.store.clock.offset();
  if (timeTravel) timeTravel.moveTo(timeTravel.now() - timeTravel.offset + storedOffset);
  else if (storedOffset !== 0) {
    await o.store.clock.setOffset(0, o.clock.now());
    o.logger.warn({ offsetMs: storedOffset }, 'the playground clock offset left in the database was cleared: this configuration runs on real time');
  }
  const plugins = playground ? [playgroundRoutes({ deps, gateway: playground, conversation, scheduler, worker, timeTravel })] : [];
  if (wechat) plugins.push(wechat.routes);
  if (telegram?.options.mode === 'webhook') plugins.push(telegram.webhookRoute());
  wechatLeader =
    wechat && o.wechatLock
      ? new Leader({
          name: 'wechat',
          lock: o.wechatLock,
          clock: o.clock,
          logger: o.logger,
          instanceId: config.instanceId,
          retryMs: config.wechatLockRetryMs,
          lead: () => wechat.start(),
          follow: () => wechat.stop(),
        })
      : undefined;
  // With several instances, /healthz says which one runs WeChat (`instance` and `holder`, instance ids).
  const wechatHealth = () => ({ ...wechat!.health(), ...(wechatLeader ? wechatLeader.health() : {}) });
  const health =
    wechat || telegram ? () => ({ ...(wechat ? { wechat: wechatHealth() } : {}), ...(telegram ? { telegram: telegram.health() } : {}) }) : undefined;
  const app = await buildApp(
    {
      app: deps,
      adminToken: o.adminToken,
      devProvider,
      outbound: limiter.stats,
      health,
      ...(wechat ? { wechatLogin: () => ({ status: wechat.login.status, qr: wechat.login.view().qr }) } : {}),
      // Read from the adapters' own tables: known whether or not the platform's adapter runs on this instance.
      botStanding: async (g) =>
        g.platform === 'telegram' ? telegramBotStanding(o.store.telegram, g.id) : g.platform === 'wechat' ? wechatBotStanding(o.store.wechat, g.id) : null,
      webhookGate,
      wechatMp: wechatMpOf(config),
      telegramBotToken: config.telegram?.token,
    },
    { loggerInstance: o.loggerInstance, plugins, trustProxy: config.trustProxy },
  );

  let stopCron: (() => void) | null = null;
  const w = worker;
  return {
    deps,
    app,
    worker: w,
    scheduler,
    limiter,
    devProvider,
    conversation,
    playground,
    wechat,
    wechatLeader,
    telegram,
    start() {
      w.start();
      if (wechatLeader) wechatLeader.start();
      else void wechat?.start();
      void telegram?.start().catch(() => {}); // logged by the adapter; /healthz shows it
      stopCron = startCron(scheduler, (err) => o.logger.error({ err }, 'scheduled tick failed'), config.sweepCron);
    },
    async stop() {
      stopCron?.();
      // The leader stops WeChat itself when it runs here (and lets the lock go), mirroring start().
      if (wechatLeader) await wechatLeader.stop();
      else await wechat?.stop();
      await telegram?.stop();
      await w.stop();
      await app.close();
    },
  };
}
