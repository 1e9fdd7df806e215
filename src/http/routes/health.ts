import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';
import { isAdminRequest } from '../admin-auth.ts';
import { publicHealth } from '../health-view.ts';

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps) {
  // The database going away is logged when it happens and when it comes back, not on every probe.
  let down = false;
  const isAdmin = isAdminRequest(deps.adminToken);
  app.get('/healthz', async (req, reply) => {
    // State only for anyone; the adapters' details (errors, URLs, names, counters) with the admin token.
    reply.header('cache-control', 'no-store'); // the answer depends on who asks
    const extra = isAdmin(req) ? (deps.health?.() ?? {}) : publicHealth(deps.health?.() ?? {});
    try {
      await deps.app.store.ping();
      if (down) deps.app.logger.info({}, 'database reachable again');
      down = false;
      return { status: 'ok', database: 'ok', dialect: deps.app.store.dialect, ...extra };
    } catch (err) {
      if (!down) deps.app.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'database unreachable: /healthz answers 503');
      down = true;
      return reply.status(503).send({ status: 'error', database: 'unreachable', ...extra });
    }
  });
}
