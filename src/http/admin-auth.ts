import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time (hashing first evens out lengths). */
export function adminAuth(token: string) {
  const expected = createHash('sha256').update(token).digest();
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    const given = createHash('sha256')
      .update(m?.[1]?.trim() ?? '')
      .digest();
    if (!m || !timingSafeEqual(given, expected)) {
      return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or wrong admin token' });
    }
  };
}
