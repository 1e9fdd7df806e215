// Composition root: config → store → providers → bots → http → scheduler.
import { pino } from 'pino';
import { timeTravelAllowed } from '../bots/playground/playground-routes.ts';
import { seedPlaygroundDemo } from '../bots/playground/seed.ts';
import { OffsetClock, systemClock } from './app/clocks.ts';
import { ConfigError, listenError, loadConfig, readEnv, resolveSecrets, secureDataDir } from './config.ts';
import { DatabaseLocationError, migrateToLatest, openDatabase, sqlitePath } from './store/database.ts';
import { pgAdvisoryLock } from './store/advisory-lock.ts';
import { lockSqliteInstance } from './store/instance-lock.ts';
import { createStore } from './store/kysely-store.ts';
import { createService } from './service.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
/** The more severe (quieter) of two pino levels. */
const moreSevere = (a: string, b: string) => (LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b);

async function main() {
  const config = loadConfig(readEnv());
  // DATA_DIR holds the SQLite file and the generated secrets: owner-only (0700), like the files in it (0600).
  if (config.dialect === 'sqlite') secureDataDir(config.dataDir);
  const secrets = resolveSecrets(config);
  const logger = pino({
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-telegram-bot-api-secret-token"]', '*.token', '*.secret'], remove: true },
    serializers: {
      // Order ids in /pay/:id work like bearer links: keep them out of the logs.
      req: (req: { method: string; url: string }) => ({
        method: req.method,
        url: req.url.replace(/\/(pay|api\/orders)\/[^/?]+/, '/$1/:id').replace(/\?.*$/, ''),
      }),
    },
  });

  // One service per SQLite file (the CLI does not take this lock and works alongside); on PostgreSQL
  // several instances share the database, see DESIGN "Scale".
  const dbPath = config.dialect === 'sqlite' ? sqlitePath(config.databaseUrl) : null;
  const instanceLock = dbPath && dbPath !== ':memory:' ? lockSqliteInstance(dbPath) : null;
  const opened = await openDatabase(config.databaseUrl);
  const applied = await migrateToLatest(opened);
  // Said in the banner below rather than logged: no log line comes before the banner.
  if (applied.length > 0) logger.debug({ migrations: applied }, 'database migrated');
  const store = createStore(opened);

  // The real clock everywhere, except the playground with only test payments: there time can travel.
  const timeTravel = timeTravelAllowed(config) ? new OffsetClock(systemClock) : null;
  // Several instances on PostgreSQL: only the one holding this lock runs the WeChat puppet.
  const wechatLock =
    config.dialect === 'postgres' && config.wechat
      ? pgAdvisoryLock({ url: config.databaseUrl, schema: opened.schema, name: 'wechat', instanceId: config.instanceId })
      : undefined;
  const service = await createService({
    config,
    adminToken: secrets.adminToken,
    devPaySecret: secrets.devPaySecret,
    store,
    clock: timeTravel ?? systemClock,
    logger,
    // Fastify logs only warnings and errors at info (not "Server listening", nor two lines per request);
    // at debug it logs one line per request (src/http/app.ts).
    loggerInstance: logger.child({}, { level: ['debug', 'trace'].includes(config.logLevel) ? config.logLevel : moreSevere(config.logLevel, 'warn') }),
    wechatLock,
  });
  const seeded = config.playground ? await seedPlaygroundDemo(service.deps) : null;
  // Rosters live in memory: rebuild them from the memberships before the worker can change them.
  await service.playground?.restoreRosters(store);
  try {
    await service.app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await service.stop().catch(() => {});
    throw listenError(err, config) ?? err;
  }

  // Before the banner: whoever reads it may stop the service at once.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await service.stop();
    await store.close();
    instanceLock?.release();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  // Shown once, on the terminal only (not through the logger), the moment they are created.
  const out: string[] = [
    '',
    `Gatekeeper is running on ${config.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} with payments: ${config.paymentProviders.join(', ')}`,
  ];
  if (applied.length > 0)
    out.push(`  Database:   ${applied.length} migration${applied.length === 1 ? '' : 's'} applied (now at ${applied[applied.length - 1]})`);
  if (config.playground) {
    out.push(`  Playground: ${config.publicUrl}/playground${timeTravel ? '  (time travel on)' : ''}  <- open this to try the bot`);
    if (seeded)
      out.push(
        `              First start: created group "${seeded.group.title}" (chat id ${seeded.group.platformChatId}) and plan "${seeded.plan.name}" 9.90 CNY / ${seeded.plan.durationDays} days.`,
        `              and "${seeded.review.group.title}" in review mode (plan "${seeded.review.plan.name}"): a payment there waits for an owner's decision.`,
      );
  }
  if (secrets.generated.length > 0) {
    // The token goes to a terminal only: piped or redirected output (journald, docker logs, CI) would keep it.
    if (process.stdout.isTTY) {
      out.push(`  First run: secrets generated into ${secrets.file} (mode 0600). Shown this once:`);
      if (secrets.generated.includes('ADMIN_TOKEN')) out.push(`    ADMIN_TOKEN=${secrets.adminToken}`);
      if (secrets.generated.includes('DEV_PAY_SECRET')) out.push('    DEV_PAY_SECRET=(generated; see the file)');
    } else {
      out.push(
        `  First run: secrets (${secrets.generated.join(', ')}) generated into ${secrets.file} (mode 0600); not shown because this output is not a terminal. Read them from that file.`,
      );
    }
  }
  if (service.wechatLeader)
    out.push(
      `  WeChat:     runs on the instance holding the lock (this is ${config.instanceId}; /healthz says which); there, scan the login QR it prints or fetch ${config.publicUrl}/api/wechat/login (admin token)`,
    );
  else if (service.wechat)
    out.push(`  WeChat:     scan the login QR printed below with the bot's WeChat account, or fetch it: ${config.publicUrl}/api/wechat/login (admin token)`);
  out.push(`  Health:     ${config.publicUrl}/healthz`);
  out.push(
    `  Admin API:  ${config.publicUrl}/api/groups  (Authorization: Bearer <ADMIN_TOKEN>${secrets.generated.includes('ADMIN_TOKEN') ? '' : config.adminToken ? ' from your environment' : ` from ${secrets.file}`})`,
  );
  out.push(`  Checkout:   ${config.publicUrl}/pay/<orderId>`);
  out.push(
    `  Console:    ${config.publicUrl}/console  (sign in with a one-time link: npx gatekeeper owner login-link, or send /console to the bot as an owner)`,
  );
  out.push(`  CLI:        npm run cli -- --help`, '');
  process.stdout.write(`${out.join('\n')}\n`);
  // The worker, the cron and the chat adapters start after the banner: their log lines come after it.
  service.start();
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof DatabaseLocationError) {
    process.stderr.write(`gatekeeper: configuration error: ${err.message}\n`);
  } else {
    process.stderr.write(`gatekeeper: failed to start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
  }
  process.exit(1);
});
