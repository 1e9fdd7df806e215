import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';
import { hasAdminToken, publicHealth } from '../health-view.ts';

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps) {
  app.get('/healthz', async (req, reply) => {
    // State only for anyone; the adapters' details (errors, URLs, names, counters) with the admin token.
    reply.header('cache-control', 'no-store'); // the answer depends on who asks
    const extra = hasAdminToken(req, deps.adminToken) ? (deps.health?.() ?? {}) : publicHealth(deps.health?.() ?? {});
    try {
      await deps.app.store.ping();
      return { status: 'ok', database: 'ok', dialect: deps.app.store.dialect, ...extra };
    } catch {
      return reply.status(503).send({ status: 'error', database: 'unreachable', ...extra });
    }
  });
}
