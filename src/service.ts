// Wires concrete adapters into one running service. main.ts uses it with the real clock; tests and the
// benchmark use it with a fake clock and their own gateways. Nothing here listens or starts timers
// until start() is called.
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { AppDeps } from './app/deps.ts';
import { createJobHandlers } from './app/job-handlers.ts';
import type { Platform } from './app/model.ts';
import type { ChatGateway, Clock, Logger, PaymentProvider, Store } from './app/ports.ts';
import type { Config } from './config.ts';
import { createCatalog } from './conversation/catalog.ts';
import { buildApp } from './http/app.ts';
import { DEFAULT_LIMITS, OutboundLimiter } from './jobs/outbound-limiter.ts';
import { Scheduler, startCron } from './jobs/scheduler.ts';
import { Worker, type WorkerOptions } from './jobs/worker.ts';
import { DevProvider } from './payments/dev/dev-provider.ts';

export interface ServiceOptions {
  config: Config;
  adminToken: string;
  devPaySecret: string;
  store: Store;
  clock: Clock;
  logger: Logger;
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  gateways?: ChatGateway[];
  /** Extra or replacement providers (tests inject emulator-backed ones). */
  providers?: PaymentProvider[];
  worker?: WorkerOptions;
}

export interface Service {
  deps: AppDeps;
  app: FastifyInstance;
  worker: Worker;
  scheduler: Scheduler;
  limiter: OutboundLimiter;
  devProvider: DevProvider | undefined;
  /** Starts the worker loop and the cron schedule (not the HTTP listener). */
  start(): void;
  stop(): Promise<void>;
}

export async function createService(o: ServiceOptions): Promise<Service> {
  const { config } = o;
  const providers = new Map<string, PaymentProvider>();
  let devProvider: DevProvider | undefined;
  if (config.paymentProviders.includes('dev')) {
    devProvider = new DevProvider(o.devPaySecret, o.clock);
    providers.set('dev', devProvider);
  }
  for (const p of o.providers ?? []) providers.set(p.name, p);

  const limiter = new OutboundLimiter(o.clock, {
    ...DEFAULT_LIMITS,
    telegram: { ...config.limits.telegram },
    wechat: { ...DEFAULT_LIMITS.wechat, ...config.limits.wechat },
  });

  let worker: Worker | undefined;
  const deps: AppDeps = {
    store: o.store,
    clock: o.clock,
    providers,
    gateways: new Map<Platform, ChatGateway>((o.gateways ?? []).map((g) => [g.platform, g])),
    messages: createCatalog({ defaultLocale: config.defaultLocale, timeZone: config.tzDisplay }),
    logger: o.logger,
    settings: {
      publicUrl: config.publicUrl,
      orderTtlMs: config.orderTtlMs,
      defaultGraceMs: config.graceMs,
      defaultReminderOffsetsMs: config.reminderOffsetsMs,
      defaultLocale: config.defaultLocale,
      tzDisplay: config.tzDisplay,
    },
    onJobsEnqueued: () => worker?.notify(),
  };
  worker = new Worker(o.store, o.clock, createJobHandlers(deps), o.logger, o.worker);
  const scheduler = new Scheduler(deps);
  const app = await buildApp({ app: deps, adminToken: o.adminToken, devProvider, outbound: limiter.stats }, { loggerInstance: o.loggerInstance });

  let stopCron: (() => void) | null = null;
  const w = worker;
  return {
    deps,
    app,
    worker: w,
    scheduler,
    limiter,
    devProvider,
    start() {
      w.start();
      stopCron = startCron(scheduler, (err) => o.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'scheduled tick failed'), config.sweepCron);
    },
    async stop() {
      stopCron?.();
      await w.stop();
      await app.close();
    },
  };
}
