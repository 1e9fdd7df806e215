import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';
import { isAdminRequest } from '../admin-auth.ts';
import { publicHealth } from '../health-view.ts';
import { databaseHealth } from '../../app/system.ts';

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps) {
  // The database going away is logged when it happens and when it comes back, not on every probe.
  let down = false;
  const isAdmin = isAdminRequest(deps.adminToken);
  app.get('/healthz', async (req, reply) => {
    // State only for anyone; the adapters' details (errors, URLs, names, counters) with the admin token.
    reply.header('cache-control', 'no-store'); // the answer depends on who asks
    const extra: Record<string, unknown> = isAdmin(req) ? (deps.health?.() ?? {}) : publicHealth(deps.health?.() ?? {});
    const db = await databaseHealth(deps.app);
    if (db.database === 'ok' && isAdmin(req)) {
      // A counter, so for the admin only: jobs for a platform with no adapter here wait unclaimed (issue 14 part 5).
      try {
        const waiting = await deps.app.store.jobs.waitingForAdapter([...deps.app.gateways.keys()]);
        if (waiting.length > 0) extra.jobsWaitingForAdapter = Object.fromEntries(waiting.map((w) => [w.platform, w.count]));
      } catch (err) {
        Object.assign(db, { database: 'unreachable', error: err instanceof Error ? err.message : String(err) });
      }
    }
    if (db.database === 'ok') {
      if (down) deps.app.logger.info({}, 'database reachable again');
      down = false;
      return { status: 'ok', database: 'ok', dialect: db.dialect, ...extra };
    }
    if (!down) deps.app.logger.error({ err: db.error }, 'database unreachable: /healthz answers 503');
    down = true;
    return reply.status(503).send({ status: 'error', database: 'unreachable', ...extra });
  });
}
