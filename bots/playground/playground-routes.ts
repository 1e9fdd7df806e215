// The playground's HTTP side: the page, a small JSON API for it, and a Server-Sent Events stream that
// carries what the bot sends on its own (invites, payment confirmations, reminders, removals), roster
// changes and clock moves. Served only when PLAYGROUND is on; time travel only when the playground and
// the dev provider are the only adapters.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetClock } from '../../src/app/clocks.ts';
import { resetTravel, travel } from '../../src/app/time-travel.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Account, Group } from '../../src/app/model.ts';
import type { Config } from '../../src/config.ts';
import { LOCALES, resolveLocale } from '../../src/conversation/catalog.ts';
import { en } from '../../src/conversation/i18n/en.ts';
import type { Conversation, Inbound } from '../../src/conversation/types.ts';
import { DomainError, invalid } from '../../src/domain/errors.ts';
import { type InboxEntry, type PlaygroundEvent, type PlaygroundGateway, type PlaygroundReply, renderReply } from './playground-gateway.ts';
import { renderPlaygroundPage } from './playground-page.ts';
import { clientKey, DEFAULT_SESSION_LIMITS, PlaygroundSessions, type SessionLimits } from './sessions.ts';
import { bearerToken } from '../../src/http/admin-auth.ts';

export const USER_ID = /^pg_[0-9a-f]{32}$/;
export const MAX_NAME = 40;
export const MAX_HOURS = 8760;
/** What the inbox keeps of a very long message a person typed (the engine still gets all of it). */
export const MAX_ECHO = 4000;
/**
 * An event stream whose client does not read is closed once this much waits in its response (Node's
 * buffer, past what the kernel's socket buffers took). A page that reads keeps far below it (an event is
 * well under 10 KB); without the bound, every broadcast to a stalled or hostile client grows memory for good.
 * The browser's EventSource reconnects by itself and catches up from /playground/api/state.
 */
export const MAX_STREAM_BUFFER_BYTES = 1024 * 1024;

export interface PlaygroundRoutesOptions {
  deps: AppDeps;
  gateway: PlaygroundGateway;
  conversation: Conversation;
  /** `tickFromNow` runs the sweeps at each stop of a jump, with the clock as it stands there. */
  scheduler: { tickFromNow(): Promise<unknown> };
  /** `settle` runs the jobs due at each stop of a jump to their end before the clock moves on. */
  worker: { notify(): void; settle(): Promise<unknown> };
  /** The service clock when time travel is allowed, else null (the route answers 404). */
  timeTravel: OffsetClock | null;
  /** SSE comment heartbeat; 15 s unless a test wants it sooner. */
  heartbeatMs?: number;
  /** Per-client caps and idle eviction (DEFAULT_SESSION_LIMITS unless a test wants others). */
  limits?: Partial<SessionLimits>;
  /** Wall time for idle eviction (Date.now unless a test brings its own); never the service clock. */
  wallClock?: () => number;
  /** Called with the sessions registry once the routes are registered (tests read its sizes). */
  onSessions?: (sessions: PlaygroundSessions) => void;
}

const unauthorized = () => new DomainError('unauthorized', 'missing or wrong session token for this person');

/** `Authorization: Bearer <token>` (the page's requests) or `?token=` (EventSource cannot set headers). */
function tokenOf(req: FastifyRequest): string | undefined {
  const bearer = bearerToken(req);
  if (bearer) return bearer;
  const q = (req.query as { token?: unknown } | undefined)?.token;
  return typeof q === 'string' ? q : undefined;
}

/** Time travel is allowed only when nothing real is attached: no chat platform, only the dev provider. */
export function timeTravelAllowed(config: Pick<Config, 'playground' | 'telegram' | 'wechat' | 'paymentProviders'>): boolean {
  return (
    config.playground && config.telegram === null && config.wechat === null && config.paymentProviders.length === 1 && config.paymentProviders[0] === 'dev'
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const LOCALE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;
const cleanLocale = (v: unknown): string | null => (typeof v === 'string' && LOCALE_TAG.test(v) ? v : null);

/** Collapses control characters and runs of spaces, trims, and checks 1–40 characters. */
export function normalizeName(raw: unknown): string {
  if (typeof raw !== 'string') throw invalid(`name must be a string of 1–${MAX_NAME} characters`);
  const name = raw
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const length = [...name].length;
  if (length < 1 || length > MAX_NAME) throw invalid(`name must be 1–${MAX_NAME} characters`);
  return name;
}

export function playgroundRoutes(o: PlaygroundRoutesOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const { store, clock, messages, settings } = o.deps;
    const names = new Map<string, string>();
    const streams = new Set<() => void>();
    const heartbeatMs = o.heartbeatMs ?? 15_000;
    const sessions = new PlaygroundSessions({ ...DEFAULT_SESSION_LIMITS, ...o.limits }, o.wallClock ?? Date.now, (userId) => {
      o.gateway.forget(userId);
      names.delete(userId);
    });
    o.gateway.keepInboxesOf((userId) => sessions.has(userId));
    o.onSessions?.(sessions);
    const sweep = setInterval(() => sessions.evictIdle(), Math.min(600_000, Math.max(1_000, sessions.limits.idleMs / 4)));
    sweep.unref();

    const pageLocale = (req: FastifyRequest<{ Querystring: { lang?: string } }>) => {
      const lang = typeof req.query.lang === 'string' ? req.query.lang : '';
      if (LOCALES.includes(lang)) return lang;
      return resolveLocale(req.headers['accept-language']?.split(',')[0] ?? null, settings.defaultLocale);
    };

    /** The person acting: the public id names them, their session token proves it (401 otherwise). */
    const person = async (userId: unknown, token: string | undefined): Promise<Account> => {
      if (userId === undefined || userId === null || userId === '') throw invalid('userId is required');
      if (typeof userId !== 'string') throw invalid('userId must be a string');
      const account = USER_ID.test(userId) ? await store.accounts.find('playground', userId) : null;
      if (!account) throw invalid('unknown person: create one with POST /playground/api/people');
      if (!sessions.verify(userId, token)) throw unauthorized();
      if (account.displayName) names.set(userId, account.displayName);
      return account;
    };

    const nameOf = async (userId: string): Promise<string> => {
      const known = names.get(userId);
      if (known !== undefined) return known;
      const name = (await store.accounts.find('playground', userId))?.displayName ?? userId.slice(0, 10);
      names.set(userId, name);
      return name;
    };

    const named = (userIds: string[]) => Promise.all(userIds.map(async (userId) => ({ userId, name: await nameOf(userId) })));
    const membersOf = (chatId: string) => named(o.gateway.members(chatId));
    const playgroundGroups = async (): Promise<Group[]> => (await store.groups.list()).filter((g) => g.platform === 'playground');
    const clockState = () => ({ now: clock.now(), offsetMs: o.timeTravel?.offset ?? 0 });

    /** Finds the label of the button a person pressed, so their chat shows what they chose. */
    const choiceLabel = (userId: string, value: string): string => {
      const inbox = o.gateway.inbox(userId);
      for (let i = inbox.length - 1; i >= 0; i--) {
        const r = inbox[i]!.reply;
        if (r.type === 'choices') {
          const c = r.choices.find((x) => x.value === value);
          if (c) return c.label;
        }
      }
      return value;
    };

    app.addHook('preClose', async () => {
      clearInterval(sweep);
      for (const end of [...streams]) end();
    });

    // ------------------------------------------------------------ the page

    app.get('/playground/', async (_req, reply) => reply.redirect('/playground', 301));

    app.get<{ Querystring: { lang?: string } }>('/playground', async (req, reply) => {
      const locale = pageLocale(req);
      const strings: Record<string, string> = {};
      for (const key of Object.keys(en)) if (key.startsWith('playground.')) strings[key] = messages.render(locale, { key, params: {} });
      const html = renderPlaygroundPage({
        locale,
        otherLocale: locale === 'zh-CN' ? 'en' : 'zh-CN',
        strings,
        timeZone: settings.tzDisplay,
        timeTravel: o.timeTravel !== null,
        devPayments: o.deps.providers.has('dev'),
        maxName: MAX_NAME,
      });
      return reply
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .header(
          'content-security-policy',
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        )
        .type('text/html; charset=utf-8')
        .send(html);
    });

    // ------------------------------------------------------------ API

    app.post('/playground/api/people', async (req, reply) => {
      const body = isObject(req.body) ? req.body : {};
      const name = normalizeName(body.name);
      const locale = cleanLocale(body.locale);
      const client = clientKey(req.ip);
      const room = sessions.canCreate(client);
      if (room !== 'ok') {
        const message =
          room === 'client'
            ? `at most ${sessions.limits.peoplePerClient} people per address; idle ones are removed after a while`
            : 'the playground is full; try again later';
        return reply.status(429).send({ error: 'too_many', message });
      }
      const userId = `pg_${randomBytes(16).toString('hex')}`;
      await store.accounts.upsert({ platform: 'playground', platformUserId: userId, displayName: name, locale }, clock.now());
      const token = sessions.create(client, userId);
      names.set(userId, name);
      // The token is shown here once, to the browser that created the person; never in state or events.
      return reply.status(201).header('cache-control', 'no-store').send({ userId, name, token });
    });

    app.post('/playground/api/send', async (req) => {
      const body = isObject(req.body) ? req.body : {};
      const account = await person(body.userId, tokenOf(req));
      const userId = account.platformUserId;
      if (body.text !== undefined && typeof body.text !== 'string') throw invalid('text must be a string');
      if (body.choice !== undefined && typeof body.choice !== 'string') throw invalid('choice must be a string');
      const choice = typeof body.choice === 'string' && body.choice !== '' ? body.choice : undefined;
      const text = choice === undefined ? ((body.text as string | undefined) ?? '') : undefined;

      const cut = text !== undefined && [...text].length > MAX_ECHO;
      const own: PlaygroundReply =
        choice !== undefined
          ? { type: 'text', text: choiceLabel(userId, choice) }
          : { type: 'text', text: cut ? `${[...text!].slice(0, MAX_ECHO).join('')}…` : text! };
      const entries: InboxEntry[] = [o.gateway.record(userId, 'person', own, cut ? MAX_ECHO : undefined)];

      const inbound: Inbound = {
        platform: 'playground',
        userId,
        displayName: account.displayName,
        locale: cleanLocale(body.locale) ?? account.locale,
        ...(choice !== undefined ? { choice } : { text: text! }),
      };
      const replies = (await o.conversation.handle(inbound)).map(renderReply);
      for (const r of replies) entries.push(o.gateway.record(userId, 'bot', r));
      return { replies, messages: entries };
    });

    app.get<{ Querystring: { userId?: string } }>('/playground/api/state', async (req) => {
      const account = req.query.userId !== undefined ? await person(req.query.userId, tokenOf(req)) : null;
      const groups = await Promise.all(
        (await playgroundGroups()).map(async (g) => ({ id: g.id, title: g.title, chatId: g.platformChatId, members: await membersOf(g.platformChatId) })),
      );
      return {
        person: account ? { userId: account.platformUserId, name: account.displayName, isOwner: account.isOwner } : null,
        history: account ? o.gateway.inbox(account.platformUserId) : [],
        groups,
        ...clockState(),
        timeTravel: o.timeTravel !== null,
      };
    });

    // A jump walks through every due time on the way (src/app/time-travel.ts); `{"reset":true}` goes back to real time.
    // One jump at a time: a second request waits for the first to end, then starts from where it stopped.
    let jumping: Promise<unknown> = Promise.resolve();
    app.post('/playground/api/time-travel', async (req, reply) => {
      const tt = o.timeTravel;
      if (!tt) return reply.status(404).send({ error: 'not_found', message: 'no such route' });
      const body = isObject(req.body) ? req.body : {};
      const reset = body.reset === true;
      if (body.reset !== undefined && !reset) throw invalid('reset must be true');
      if (reset && body.hours !== undefined) throw invalid('send either hours or reset, not both');
      let hours = 0;
      if (!reset) {
        const raw = body.hours;
        hours = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isInteger(hours) || hours < 1 || hours > MAX_HOURS) throw invalid(`hours must be a whole number from 1 to ${MAX_HOURS}`);
      }
      const d = {
        store,
        clock: tt,
        tick: () => o.scheduler.tickFromNow(),
        settle: () => o.worker.settle(),
        onStop: (now: number, offsetMs: number) => o.gateway.announceClock({ now, offsetMs }),
      };
      const run = jumping.then(async () => {
        if (reset) await resetTravel(d);
        else await travel(d, hours * 3_600_000);
      });
      jumping = run.catch(() => {});
      await run;
      o.worker.notify();
      return clockState();
    });

    // ------------------------------------------------------------ live updates

    app.get<{ Querystring: { userId?: string; token?: string } }>('/playground/api/events', async (req, reply: FastifyReply) => {
      const account = req.query.userId !== undefined ? await person(req.query.userId, tokenOf(req)) : null;
      const userId = account?.platformUserId ?? null;
      const release = sessions.openStream(clientKey(req.ip), userId);
      if (!release) return reply.status(429).send({ error: 'too_many', message: `at most ${sessions.limits.streamsPerClient} open event streams per address` });

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let open = true;
      // Writes go through one chain so roster events (which look names up) keep their order.
      let chain: Promise<void> = Promise.resolve();
      const write = (chunk: () => Promise<string | null> | string | null) => {
        chain = chain
          .then(async () => {
            const s = await chunk();
            if (!open || s === null) return;
            res.write(s);
            // Backpressure: write() only queues; a client that stopped reading would grow it without end.
            if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
              o.deps.logger.warn({ buffered: res.writableLength }, 'playground event stream closed: its client does not read');
              end();
              res.destroy();
            }
          })
          .catch(() => {});
      };
      const event = (name: string, data: unknown, id?: number) => `${id !== undefined ? `id: ${id}\n` : ''}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

      const unsubscribe = o.gateway.subscribe((e: PlaygroundEvent) => {
        if (e.type === 'message') {
          if (e.userId !== userId) return;
          const { type: _t, userId: _u, ...entry } = e;
          write(() => event('message', entry, entry.id));
        } else if (e.type === 'roster') {
          write(async () => event('roster', { chatId: e.chatId, members: await named(e.members) }));
        } else {
          write(() => event('clock', { now: e.now, offsetMs: e.offsetMs }));
        }
      });
      const heartbeat = setInterval(() => write(() => ': ping\n\n'), heartbeatMs);
      heartbeat.unref();
      const end = () => {
        if (!open) return;
        open = false;
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(end);
        release();
        res.end();
      };
      streams.add(end);
      req.raw.on('close', end);
      res.on('close', end);
      write(() => `retry: 3000\n: connected\n\n${event('clock', clockState())}`);
    });
  };
}
