import type { FastifyInstance } from 'fastify';
import { auth } from './service.ts';

/** A group + plan + pending dev order through the admin API; returns their ids. */
export async function seedOrder(app: FastifyInstance, opts: { userId?: string; price?: string; currency?: string; days?: number; chatId?: string } = {}) {
  const chatId = opts.chatId ?? 'room-1';
  let groupId: number;
  const existing = (await app.inject({ method: 'GET', url: '/api/groups', headers: auth })).json().items as Array<{ id: number; chatId: string }>;
  const found = existing.find((g) => g.chatId === chatId);
  if (found) groupId = found.id;
  else {
    const g = await app.inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId, title: `Group ${chatId}` } });
    groupId = g.json().id;
  }
  const p = await app.inject({
    method: 'POST',
    url: '/api/plans',
    headers: auth,
    payload: { groupIds: [groupId], name: 'Monthly', price: opts.price ?? '9.90', currency: opts.currency ?? 'CNY', days: opts.days ?? 30 },
  });
  const planId = p.json().id as number;
  const c = await app.inject({
    method: 'POST',
    url: '/api/checkouts',
    headers: auth,
    payload: { platform: 'playground', userId: opts.userId ?? 'alice', planId, provider: 'dev' },
  });
  if (c.statusCode !== 201) throw new Error(`checkout failed: ${c.body}`);
  return { groupId, planId, orderId: c.json().orderId as string };
}
