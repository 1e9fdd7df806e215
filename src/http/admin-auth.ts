import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1]?.trim();
}

/** Whether a request carries `Bearer <ADMIN_TOKEN>`, compared in constant time (hashing first evens out lengths). */
export function isAdminRequest(token: string): (req: FastifyRequest) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const given = bearerToken(req);
    return given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
  };
}

/** An onRequest hook: 401 unless the request carries the admin token. */
export function adminAuth(token: string) {
  const isAdmin = isAdminRequest(token);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isAdmin(req)) {
      return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or wrong admin token' });
    }
  };
}
