// One error handler for the whole app: typed errors map to their status, malformed requests are 4xx,
// and a 5xx never shows its details to the caller. This is the HTTP boundary: an error is logged here
// once, as the error itself (its stack, provider, method and cause for the logger's serializer).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ProviderRejectedError, ProviderUnreachableError } from '../domain/errors.ts';

const STATUS: Record<DomainError['code'], number> = { invalid_input: 400, not_found: 404, conflict: 409, forbidden: 403, unauthorized: 401 };

export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof DomainError) return reply.status(STATUS[err.code]).send({ error: err.code, message: err.message });
  if (err instanceof ProviderRejectedError) {
    req.log.warn({ provider: err.provider, method: err.method, err }, 'provider rejected');
    return reply.status(502).send({ error: 'provider_rejected', message: `the payment provider ${err.provider} refused the request` });
  }
  if (err instanceof ProviderUnreachableError) {
    req.log.warn({ provider: err.provider, method: err.method, err }, 'provider unreachable');
    return reply.status(503).send({
      error: 'provider_unreachable',
      message: `the payment provider ${err.provider} could not be reached; the order stays pending, try again shortly`,
    });
  }
  const status = (err as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) {
    return reply.status(status).send({ error: 'bad_request', message: err.message.split('\n')[0] });
  }
  req.log.error({ err }, 'unhandled error');
  return reply.status(500).send({ error: 'internal', message: 'internal error' });
}
