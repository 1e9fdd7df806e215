// A whole service on a test database, a fake clock and a recording gateway; HTTP through app.inject.
import type { Logger } from '../../src/app/ports.ts';
import { loadConfig } from '../../src/config.ts';
import type { Dialect } from '../../src/store/database.ts';
import { createService, type Service } from '../../src/service.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { RecordingGateway } from '../fakes/recording-gateway.ts';
import { openTestDb, type TestDb } from './db.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const DEV_SECRET = 'test-dev-secret-0123456789';
export const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg?: string;
}

export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

export interface TestService {
  db: TestDb;
  clock: FakeClock;
  gateway: RecordingGateway;
  service: Service;
  logger: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

export async function startTestService(dialect: Dialect, env: Record<string, string> = {}, existing?: { db: TestDb; clock: FakeClock }): Promise<TestService> {
  const db = existing?.db ?? (await openTestDb(dialect));
  const clock = existing?.clock ?? new FakeClock();
  const gateway = new RecordingGateway('playground');
  const logger = memoryLogger();
  const store = existing ? (await db.reopen()).store : db.store;
  const config = loadConfig({
    DATA_DIR: '/nonexistent-test-data-dir',
    DATABASE_URL: db.url,
    ADMIN_TOKEN,
    DEV_PAY_SECRET: DEV_SECRET,
    PUBLIC_URL: 'http://gk.test',
    ...env,
  });
  const service = await createService({
    config,
    adminToken: ADMIN_TOKEN,
    devPaySecret: DEV_SECRET,
    store,
    clock,
    logger,
    gateways: [gateway],
    worker: { random: () => 0.5 },
  });
  return {
    db,
    clock,
    gateway,
    service,
    logger,
    async close() {
      await service.stop();
      if (!existing) await db.close();
    },
  };
}
