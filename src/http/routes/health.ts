import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps) {
  app.get('/healthz', async (_req, reply) => {
    const extra = deps.health?.() ?? {};
    try {
      await deps.app.store.ping();
      return { status: 'ok', database: 'ok', dialect: deps.app.store.dialect, ...extra };
    } catch {
      return reply.status(503).send({ status: 'error', database: 'unreachable', ...extra });
    }
  });
}
