// Server-Sent Events over a real socket (127.0.0.1, port 0): what jobs send through the gateway, roster
// changes and clock moves reach the page; the stream is cleaned up when the browser goes away.
import Fastify, { type FastifyInstance } from 'fastify';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { playgroundRoutes } from '../../../bots/playground/playground-routes.ts';
import { createPerson, type Playground, startPlayground } from './harness.ts';

let pg: Playground;
const extraApps: FastifyInstance[] = [];
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  for (const a of extraApps.splice(0)) await a.close();
  await pg?.close();
});

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return `http://127.0.0.1:${addr.port}`;
}

/**
 * Opens the event stream with node:http (one socket, no pooling, destroyed on abort) and returns a
 * reader that waits until the text received so far matches.
 */
async function openStream(url: string) {
  const abort = new AbortController();
  aborts.push(abort);
  let text = '';
  let done = false;
  let wake: () => void = () => {};
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpGet(url, { agent: false, signal: abort.signal }, resolve);
    req.on('error', (err) => {
      done = true;
      wake();
      if (!abort.signal.aborted) reject(err);
    });
  });
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    text += chunk;
    wake();
  });
  res.on('close', () => {
    done = true;
    wake();
  });
  const until = async (pred: (all: string) => boolean, ms = 3000): Promise<string> => {
    const deadline = Date.now() + ms;
    while (!pred(text)) {
      if (done) throw new Error(`stream ended; got:\n${text}`);
      if (Date.now() > deadline) throw new Error(`timed out; got:\n${text}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    return text;
  };
  const events = () =>
    text
      .split('\n\n')
      .filter((b) => /^event: /m.test(b))
      .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1], id: /^id: (.*)$/m.exec(b)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) }));
  return {
    status: res.statusCode,
    contentType: res.headers['content-type'],
    abort,
    until,
    events,
    get done() {
      return done;
    },
  };
}

async function eventually(pred: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('GET /playground/api/events', () => {
  it('streams bot messages pushed through the gateway (only the person\'s own) and roster changes with names', async () => {
    pg = await startPlayground();
    const base = await listen(pg.service.app);
    const alice = await createPerson(pg.service, 'Alice');
    const bob = await createPerson(pg.service, 'Bob');

    const s = await openStream(`${base}/playground/api/events?userId=${alice}`);
    expect(s.status).toBe(200);
    expect(s.contentType).toBe('text/event-stream; charset=utf-8');
    await s.until((t) => t.includes('event: clock'));
    expect(s.events()[0]).toEqual({ event: 'clock', id: undefined, data: { now: pg.fake.now(), offsetMs: 0 } });
    expect(pg.gateway.subscriberCount).toBe(1);

    // What a job sends (payment confirmation, reminder, removal notice) arrives without any request.
    await pg.gateway.sendText(bob, 'for bob only', { lane: 'notice' });
    await pg.gateway.sendText(alice, 'Payment received, thank you!', { lane: 'notice' });
    await s.until((t) => t.includes('Payment received'));
    const msgs = s.events().filter((e) => e.event === 'message');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.data).toMatchObject({ from: 'bot', reply: { type: 'text', text: 'Payment received, thank you!' } });
    expect(msgs[0]!.id).toBe(String(msgs[0]!.data.id));

    await pg.gateway.invite('room-1', alice, { membershipId: 1, expiresAt: 0, groupTitle: 'G', locale: 'en' });
    await pg.gateway.invite('room-1', bob, { membershipId: 2, expiresAt: 0, groupTitle: 'G', locale: 'en' });
    await pg.gateway.remove('room-1', alice, { ban: false });
    await s.until((t) => (t.match(/event: roster/g) ?? []).length === 3);
    expect(s.events().filter((e) => e.event === 'roster').map((e) => e.data)).toEqual([
      { chatId: 'room-1', members: [{ userId: alice, name: 'Alice' }] },
      { chatId: 'room-1', members: [{ userId: alice, name: 'Alice' }, { userId: bob, name: 'Bob' }] },
      { chatId: 'room-1', members: [{ userId: bob, name: 'Bob' }] },
    ]);

    // The browser goes away: the subscription is dropped.
    s.abort.abort();
    await eventually(() => pg.gateway.subscriberCount === 0);
  });

  it('carries the replies of a send too, so a second tab stays in step', async () => {
    pg = await startPlayground();
    const base = await listen(pg.service.app);
    const alice = await createPerson(pg.service, 'Alice');
    const s = await openStream(`${base}/playground/api/events?userId=${alice}`);
    await s.until((t) => t.includes('event: clock'));
    const r = await fetch(`${base}/playground/api/send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: alice, text: 'hello' }) });
    const ids = ((await r.json()) as { messages: Array<{ id: number }> }).messages.map((m) => m.id);
    await s.until((t) => t.includes('echo 5'));
    expect(s.events().filter((e) => e.event === 'message').map((e) => e.data.id)).toEqual(ids);
  });

  it('announces a time-travel clock move', async () => {
    pg = await startPlayground({ timeTravel: true });
    const base = await listen(pg.service.app);
    const s = await openStream(`${base}/playground/api/events`);
    await s.until((t) => t.includes('event: clock'));
    const r = await fetch(`${base}/playground/api/time-travel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hours: 24 }) });
    expect(r.status).toBe(200);
    await s.until((t) => (t.match(/event: clock/g) ?? []).length === 2);
    expect(s.events().at(-1)!.data).toEqual({ now: pg.fake.now() + 24 * 3_600_000, offsetMs: 24 * 3_600_000 });
  });

  it('refuses an unknown person with 400 JSON instead of opening a stream', async () => {
    pg = await startPlayground();
    const r = await pg.service.app.inject({ method: 'GET', url: `/playground/api/events?userId=pg_${'f'.repeat(32)}` });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/unknown person/);
    expect(pg.gateway.subscriberCount).toBe(0);
  });

  it('sends a comment heartbeat, and closing the server ends open streams', async () => {
    pg = await startPlayground();
    const app = Fastify();
    extraApps.push(app);
    await app.register(playgroundRoutes({ deps: pg.service.deps, gateway: pg.gateway, conversation: pg.conversation, scheduler: pg.service.scheduler, worker: pg.service.worker, timeTravel: null, heartbeatMs: 25 }));
    const base = await listen(app);
    const s = await openStream(`${base}/playground/api/events`);
    await s.until((t) => (t.match(/: ping\n\n/g) ?? []).length >= 2);
    await app.close(); // would hang if the open stream were not ended
    extraApps.pop();
    await s.until(() => s.done).catch(() => {});
    expect(s.done).toBe(true);
    expect(pg.gateway.subscriberCount).toBe(0);
  });
});
