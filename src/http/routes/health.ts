import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps) {
  // The database going away is logged when it happens and when it comes back, not on every probe.
  let down = false;
  app.get('/healthz', async (_req, reply) => {
    const extra = deps.health?.() ?? {};
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
