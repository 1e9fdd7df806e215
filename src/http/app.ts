// buildApp(deps) assembles the HTTP surface and never listens: main.ts calls listen, tests use inject.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import type { HttpDeps } from './deps.ts';
import { errorHandler } from './errors.ts';
import { adminApiRoutes } from './routes/admin-api.ts';
import { consoleRoutes } from './routes/console.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { payPageRoutes } from './routes/pay-page.ts';
import { doorRoutes } from './routes/door-page.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface BuildOptions {
  /** A pino instance from main.ts; tests leave it out (silent). */
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  /** Extra route plugins (chat adapters' webhooks, playground). */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
  /**
   * TRUST_PROXY: whose X-Forwarded-For fastify believes for req.ip (false: nobody, the socket's peer is
   * the client). Trusting a hop that is not your own proxy lets any client name its own address.
   */
  trustProxy?: boolean | string[];
}

/**
 * Not fastify's two info lines per request ("incoming request", "request completed"): one line, at
 * debug. What a request did is logged at info by the code that handled it (one line per handled event).
 */
class QuietRequests extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return super.requestCompleted(error, request, reply);
    reply.log.debug({ req: request, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  }
}

export async function buildApp(deps: HttpDeps, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: false }),
    bodyLimit: 256 * 1024,
    trustProxy: opts.trustProxy ?? false,
    logController: new QuietRequests(),
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_req, reply) => reply.status(404).send({ error: 'not_found', message: 'no such route' }));
  await app.register(async (s) => healthRoutes(s, deps));
  await app.register(async (s) => webhookRoutes(s, deps));
  await app.register(async (s) => payPageRoutes(s, deps));
  await app.register(async (s) => doorRoutes(s, deps));
  await app.register(async (s) => adminApiRoutes(s, deps));
  await app.register(async (s) => metricsRoutes(s, deps));
  await app.register(async (s) => consoleRoutes(s, deps));
  for (const p of opts.plugins ?? []) await app.register(p);
  await app.ready();
  return app;
}
