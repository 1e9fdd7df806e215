// Server-Sent Events over a real socket (127.0.0.1, port 0): what jobs send through the gateway, roster
// changes and clock moves reach the page; the stream is cleaned up when the browser goes away.
import Fastify, { type FastifyInstance } from 'fastify';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_INBOX_LIMIT } from '../../../bots/playground/playground-gateway.ts';
import { MAX_STREAM_BUFFER_BYTES, playgroundRoutes } from '../../../bots/playground/playground-routes.ts';
import type { PlaygroundSessions, SessionLimits } from '../../../bots/playground/sessions.ts';
import { errorHandler } from '../../../src/http/errors.ts';
import type { memoryLogger } from '../../helpers/service.ts';
import { addGroupAndPlan, as, createPerson, type Playground, startPlayground, tokenOf } from './harness.ts';

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
  it("streams bot messages pushed through the gateway (only the person's own) and roster changes with names", async () => {
    pg = await startPlayground();
    const base = await listen(pg.service.app);
    const alice = await createPerson(pg.service, 'Alice');
    const bob = await createPerson(pg.service, 'Bob');

    const s = await openStream(`${base}/playground/api/events?userId=${alice}&token=${tokenOf(alice)}`);
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
    expect(
      s
        .events()
        .filter((e) => e.event === 'roster')
        .map((e) => e.data),
    ).toEqual([
      { chatId: 'room-1', members: [{ userId: alice, name: 'Alice' }] },
      {
        chatId: 'room-1',
        members: [
          { userId: alice, name: 'Alice' },
          { userId: bob, name: 'Bob' },
        ],
      },
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
    const s = await openStream(`${base}/playground/api/events?userId=${alice}&token=${tokenOf(alice)}`);
    await s.until((t) => t.includes('event: clock'));
    const r = await fetch(`${base}/playground/api/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...as(alice) },
      body: JSON.stringify({ userId: alice, text: 'hello' }),
    });
    const ids = ((await r.json()) as { messages: Array<{ id: number }> }).messages.map((m) => m.id);
    await s.until((t) => t.includes('echo 5'));
    expect(
      s
        .events()
        .filter((e) => e.event === 'message')
        .map((e) => e.data.id),
    ).toEqual(ids);
  });

  it('announces a time-travel clock move', async () => {
    pg = await startPlayground({ timeTravel: true });
    const base = await listen(pg.service.app);
    const s = await openStream(`${base}/playground/api/events`);
    await s.until((t) => t.includes('event: clock'));
    const r = await fetch(`${base}/playground/api/time-travel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hours: 24 }),
    });
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
    await app.register(
      playgroundRoutes({
        deps: pg.service.deps,
        gateway: pg.gateway,
        conversation: pg.conversation,
        scheduler: pg.service.scheduler,
        worker: pg.service.worker,
        timeTravel: null,
        heartbeatMs: 25,
      }),
    );
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

/** The routes on an app of their own, with chosen caps and a wall clock the test moves. */
async function sessionApp(limits: Partial<SessionLimits>, wall = { now: 1_000_000 }) {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  extraApps.push(app);
  let sessions: PlaygroundSessions | null = null;
  await app.register(
    playgroundRoutes({
      deps: pg.service.deps,
      gateway: pg.gateway,
      conversation: pg.conversation,
      scheduler: pg.service.scheduler,
      worker: pg.service.worker,
      timeTravel: null,
      limits,
      wallClock: () => wall.now,
      onSessions: (s) => (sessions = s),
    }),
  );
  await app.ready();
  const create = async (name: string, remoteAddress = '10.0.0.1') => {
    const r = await app.inject({ method: 'POST', url: '/playground/api/people', payload: { name }, remoteAddress });
    return r;
  };
  return { app, wall, sessions: () => sessions!, create };
}

describe('session tokens: the public id alone acts as nobody', () => {
  it("a send with a stolen public id and no token (or another person's token) is 401 and reaches no conversation", async () => {
    pg = await startPlayground();
    await addGroupAndPlan(pg.service, 'room-1');
    const alice = await createPerson(pg.service, 'Alice');
    const mallory = await createPerson(pg.service, 'Mallory');
    // What anyone sees: the public state lists people by public id only.
    await pg.gateway.invite('room-1', alice, { membershipId: 1, expiresAt: 0, groupTitle: 'G', locale: 'en' });
    const publicState = await pg.service.app.inject({ method: 'GET', url: '/playground/api/state' });
    expect(publicState.body).toContain(alice);

    const attempts = [
      {}, // no token at all
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${tokenOf(mallory)}` }, // a real token, of someone else
      { authorization: `Bearer pgt_${'A'.repeat(43)}` },
      { authorization: tokenOf(alice) }, // not a Bearer header
    ];
    for (const headers of attempts) {
      const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers, payload: { userId: alice, text: claimLike } });
      expect(r.statusCode, JSON.stringify(headers)).toBe(401);
      expect(r.json()).toEqual({ error: 'unauthorized', message: 'missing or wrong session token for this person' });
      expect(r.body).not.toContain('\n');
    }
    // Nor can the stranger read Alice's chat or listen to it.
    expect((await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${alice}` })).statusCode).toBe(401);
    expect((await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${alice}`, headers: as(mallory) })).statusCode).toBe(401);
    expect((await pg.service.app.inject({ method: 'GET', url: `/playground/api/events?userId=${alice}&token=${tokenOf(mallory)}` })).statusCode).toBe(401);
    expect(pg.conversation.received).toHaveLength(0);
    expect(pg.gateway.subscriberCount).toBe(0);

    // With her own token Alice is heard.
    const ok = await pg.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(alice), payload: { userId: alice, text: 'hi' } });
    expect(ok.statusCode).toBe(200);
    expect(pg.conversation.received).toHaveLength(1);
  });

  it('the token is ≥ 128 random bits, given once at creation, and never appears in state or events', async () => {
    pg = await startPlayground();
    const base = await listen(pg.service.app);
    const r = await pg.service.app.inject({ method: 'POST', url: '/playground/api/people', payload: { name: 'Alice' } });
    const { userId: alice, token } = r.json() as { userId: string; token: string };
    expect(token).toMatch(/^pgt_[A-Za-z0-9_-]{43}$/); // 256 bits
    expect(token).not.toContain(alice.slice(3));
    expect(r.headers['cache-control']).toBe('no-store');
    const bob = await createPerson(pg.service, 'Bob');
    await pg.gateway.invite('room-1', alice, { membershipId: 1, expiresAt: 0, groupTitle: 'G', locale: 'en' });
    await pg.gateway.invite('room-1', bob, { membershipId: 2, expiresAt: 0, groupTitle: 'G', locale: 'en' });

    const bobs = await openStream(`${base}/playground/api/events?userId=${bob}&token=${tokenOf(bob)}`);
    await bobs.until((t) => t.includes('event: clock'));
    await pg.gateway.remove('room-1', alice, { ban: false });
    await pg.gateway.sendText(bob, 'hello Bob', { lane: 'notice' });
    await bobs.until((t) => t.includes('hello Bob') && t.includes('event: roster'));
    const seen = [
      bobs
        .events()
        .map((e) => JSON.stringify(e))
        .join('\n'),
      (await pg.service.app.inject({ method: 'GET', url: '/playground/api/state' })).body,
      (await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${bob}`, headers: as(bob) })).body,
      (await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${alice}`, headers: { authorization: `Bearer ${token}` } })).body,
    ];
    for (const text of seen) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(tokenOf(bob));
      expect(text).not.toMatch(/pgt_/);
    }
  });
});

const claimLike = 'claim-0123456789abcdef0123456789abcdef';

describe('a client that never reads its event stream', () => {
  it('is cut off once about MAX_STREAM_BUFFER_BYTES wait for it, and its slot is freed', async () => {
    pg = await startPlayground();
    const base = new URL(await listen(pg.service.app));
    const alice = await createPerson(pg.service, 'Alice');
    // A raw socket that sends the request and then never reads (paused: the kernel buffers fill up).
    const sock = connect(Number(base.port), base.hostname);
    sock.pause();
    sock.on('error', () => {});
    sock.write(`GET /playground/api/events?userId=${alice}&token=${tokenOf(alice)} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    try {
      await eventually(() => pg.gateway.subscriberCount === 1);
      // 4 KB messages for Alice until the server gives up on her; bounded at 64 MB of events.
      const text = 'x'.repeat(4000);
      let sent = 0;
      while (pg.gateway.subscriberCount === 1 && sent < 16_000) {
        for (let i = 0; i < 50; i++) pg.gateway.record(alice, 'bot', { type: 'text', text });
        sent += 50;
        await new Promise((r) => setTimeout(r, 1));
      }
      expect(pg.gateway.subscriberCount).toBe(0);
      // It went only a little past the kernel's buffers and the bound (not the whole 64 MB).
      expect(sent * 4000).toBeLessThan(MAX_STREAM_BUFFER_BYTES + 32 * 1024 * 1024);
      const lines = (pg.service.deps.logger as ReturnType<typeof memoryLogger>).lines;
      expect(lines.filter((l) => l.msg === 'playground event stream closed: its client does not read')).toHaveLength(1);
      // Its stream slot is free again: five new streams from the same address are served.
      for (let i = 0; i < 5; i++) expect((await openStream(`${base.origin}/playground/api/events`)).status).toBe(200);
    } finally {
      sock.destroy();
    }
  }, 60_000);
});

describe('caps per client address', () => {
  it('1,000 event streams from one address: 5 are served, the rest refused, nothing held beyond the cap', async () => {
    pg = await startPlayground();
    const base = await listen(pg.service.app);
    const open = [];
    for (let i = 0; i < 5; i++) {
      const s = await openStream(`${base}/playground/api/events`);
      expect(s.status).toBe(200);
      open.push(s);
    }
    const heapBefore = process.memoryUsage().heapUsed;
    let refused = 0;
    for (let i = 0; i < 995; i++) {
      const r = await fetch(`${base}/playground/api/events`);
      if (r.status === 429) refused++;
      const body = (await r.json()) as { error: string; message: string };
      if (i === 0) expect(body).toEqual({ error: 'too_many', message: 'at most 5 open event streams per address' });
    }
    expect(refused).toBe(995);
    expect(pg.gateway.subscriberCount).toBe(5);
    // No growth beyond the cap (a loose bound: 995 held streams with their buffers would be far more).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);

    // A closed stream frees its slot.
    open[0]!.abort.abort();
    await eventually(() => pg.gateway.subscriberCount === 4);
    const again = await openStream(`${base}/playground/api/events`);
    expect(again.status).toBe(200);
    expect(pg.gateway.subscriberCount).toBe(5);
  }, 60_000);

  it('counts streams per address and releases every slot when the streams end', async () => {
    pg = await startPlayground();
    const s = await sessionApp({ streamsPerClient: 2 });
    const base = await listen(s.app);
    const a = [await openStream(`${base}/playground/api/events`), await openStream(`${base}/playground/api/events`)];
    expect(a.map((x) => x.status)).toEqual([200, 200]);
    expect((await fetch(`${base}/playground/api/events`)).status).toBe(429);
    expect(s.sessions().stats()).toMatchObject({ streams: 2, streamClients: 1 });
    // Another address has its own allowance (inject can claim any remote address; 429 answers come back at once).
    const other = await s.app.inject({ method: 'GET', url: '/playground/api/events', remoteAddress: '10.9.9.9', query: { userId: 'x' } });
    expect(other.statusCode).toBe(400); // a bad person is refused before a slot is taken…
    expect(s.sessions().stats().streams).toBe(2);
    for (const x of a) x.abort.abort();
    await eventually(() => s.sessions().stats().streams === 0);
    expect(s.sessions().stats().streamClients).toBe(0);
  });

  it('at most 20 people per address; another address is not affected', async () => {
    pg = await startPlayground();
    const s = await sessionApp({});
    for (let i = 0; i < 20; i++) expect((await s.create(`P${i}`, '10.0.0.1')).statusCode).toBe(201);
    const refused = await s.create('P20', '10.0.0.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ error: 'too_many', message: 'at most 20 people per address; idle ones are removed after a while' });
    // One IPv6 host owns its whole /64.
    for (let i = 0; i < 20; i++) expect((await s.create(`Q${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`)).statusCode).toBe(201);
    expect((await s.create('Q20', '2001:db8:1:2:ffff::1')).statusCode).toBe(429);
    expect((await s.create('R', '10.0.0.2')).statusCode).toBe(201);
    expect(s.sessions().stats()).toMatchObject({ people: 41, clients: 3 });
  });

  it('evicts idle people with their chat (wall time, not the service clock); an open stream keeps a person', async () => {
    pg = await startPlayground();
    const s = await sessionApp({ idleMs: 60_000, peoplePerClient: 2 });
    const base = await listen(s.app);
    const alice = (await s.create('Alice')).json() as { userId: string; token: string };
    const bob = (await s.create('Bob')).json() as { userId: string; token: string };
    await pg.gateway.sendText(alice.userId, 'for Alice', { lane: 'notice' });
    await pg.gateway.sendText(bob.userId, 'for Bob', { lane: 'notice' });
    expect(pg.gateway.inboxCount).toBe(2);
    const stream = await openStream(`${base}/playground/api/events?userId=${bob.userId}&token=${bob.token}`);
    expect(stream.status).toBe(200);

    pg.fake.set(pg.fake.now() + 365 * 86_400_000); // the service clock moving evicts nobody
    expect((await s.create('Carol')).statusCode).toBe(429);
    s.wall.now += 61_000;
    expect((await s.create('Carol')).statusCode).toBe(201); // Alice was idle: her place is free
    expect(s.sessions().stats().people).toBe(2);
    expect(pg.gateway.inbox(alice.userId)).toEqual([]);
    const gone = await s.app.inject({
      method: 'POST',
      url: '/playground/api/send',
      headers: { authorization: `Bearer ${alice.token}` },
      payload: { userId: alice.userId, text: 'hi' },
    });
    expect(gone.statusCode).toBe(401);
    // Messages to an evicted person are not stored for nobody to read.
    await pg.gateway.sendText(alice.userId, 'late reminder', { lane: 'notice' });
    expect(pg.gateway.inbox(alice.userId)).toEqual([]);
    // Bob, listening all along, is still there.
    const ok = await s.app.inject({ method: 'GET', url: `/playground/api/state?userId=${bob.userId}`, headers: { authorization: `Bearer ${bob.token}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().history.map((e: { reply: { text: string } }) => e.reply.text)).toEqual(['for Bob']);
  });

  it('keeps each chat to the inbox limit', async () => {
    pg = await startPlayground();
    const alice = await createPerson(pg.service, 'Alice');
    for (let i = 0; i < DEFAULT_INBOX_LIMIT + 50; i++) pg.gateway.record(alice, 'bot', { type: 'text', text: `m${i}` });
    const history = (await pg.service.app.inject({ method: 'GET', url: `/playground/api/state?userId=${alice}`, headers: as(alice) })).json().history;
    expect(history).toHaveLength(DEFAULT_INBOX_LIMIT);
    expect(history.at(-1).reply.text).toBe(`m${DEFAULT_INBOX_LIMIT + 49}`);
  });
});
