// The WeChat adapter: builds the Wechaty with the configured puppet (wechaty-puppet-service with
// WECHATY_PUPPET_SERVICE_TOKEN in production; tests inject one around wechaty-puppet-mock), routes its
// events to the features, and offers the service its ChatGateway, scheduler sweeps (add time-outs, roster
// audit), a job handler (intruder removal), admin routes (login QR, restart) and health facts.
// Start, stop and restart never lose work: jobs are durable and wait (RetryAfter, no attempt spent) while
// the bot is logged out, so a restart just lets them resume.
import type { FastifyInstance } from 'fastify';
import { type Contact, type Friendship, type Message, type Room, type Wechaty, WechatyBuilder, type types } from 'wechaty';
import { RetryAfterError } from '../../src/domain/errors.ts';
import type { Conversation } from '../../src/conversation/types.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import type { Sweep } from '../../src/jobs/scheduler.ts';
import { Friendships } from './friendship.ts';
import { Identity } from './identity.ts';
import { LoginState, terminalQrPrinter, wechatAdminRoutes } from './login-health.ts';
import { PrivateChat } from './private-chat.ts';
import { RoomBinding } from './room-binding.ts';
import { RoomMembership } from './room-membership.ts';
import { RosterAudit } from './roster-audit.ts';
import { type BotHandle, errText, LOGGED_OUT_RETRY_MS, type OutboundGate, type WechatCore, type WechatDeps, type WechatSettings } from './wechat-context.ts';
import { WechatGateway } from './wechat-gateway.ts';

export const DEFAULT_WECHAT_SETTINGS: WechatSettings = {
  friendKeyword: null,
  addTimeoutMs: 10 * 60_000,
  invitationTimeoutMs: 2 * HOUR_MS,
  auditIntervalMs: 10 * 60_000,
  absentOfferEveryMs: 72 * HOUR_MS,
};

export interface WechatAdapterOptions {
  deps: WechatDeps;
  limiter: OutboundGate;
  conversation: Conversation;
  adminToken: string;
  /** config.wechat: the puppet (wechaty-puppet-service) and its token; null when a test brings its own Wechaty. */
  config: { puppet: string; token: string; friendKeyword?: string | null } | null;
  /** Builds the Wechaty. Default: WechatyBuilder with config.puppet and config.token. */
  createWechaty?: () => Wechaty;
  /** Shows a new login QR to the person at the terminal (default: printed on stdout). */
  printQr?: (qr: string) => void;
  settings?: Partial<WechatSettings>;
  /**
   * Several instances (PostgreSQL): whether this one may run the puppet now, i.e. holds the instance
   * lock. start() (and a restart from the admin API) does nothing otherwise. Default: always.
   */
  mayRun?: () => boolean;
}

export interface WechatAdapter {
  readonly gateway: WechatGateway;
  readonly login: LoginState;
  readonly sweeps: Sweep[];
  /** Admin API routes: GET /api/wechat/login, GET /api/wechat/login/qr.png, POST /api/wechat/restart. */
  readonly routes: (app: FastifyInstance) => Promise<void>;
  /** The Wechaty running now, if any. */
  readonly wechaty: Wechaty | null;
  health(): Record<string, unknown>;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Resolves once no event handler is running any more (bounded). */
  idle(): Promise<void>;
  /** True while an event handler is running (it may be waiting for the limiter). */
  readonly busy: boolean;
}

function productionWechaty(config: WechatAdapterOptions['config']): Wechaty {
  if (!config) throw new Error('WeChat is not configured: set WECHATY_PUPPET_SERVICE_TOKEN');
  return WechatyBuilder.build({ puppet: config.puppet as 'wechaty-puppet-service', puppetOptions: { token: config.token } });
}

export function createWechatAdapter(o: WechatAdapterOptions): WechatAdapter {
  const { deps } = o;
  const logger = deps.logger;
  const settings: WechatSettings = { ...DEFAULT_WECHAT_SETTINGS, friendKeyword: o.config?.friendKeyword ?? null, ...o.settings };
  const login = new LoginState(deps.clock, o.printQr ?? terminalQrPrinter());
  let current: Wechaty | null = null;
  let started: Wechaty | null = null;

  const bot: BotHandle = {
    ready() {
      if (!current || !login.loggedIn || !current.isLoggedIn) throw new RetryAfterError(LOGGED_OUT_RETRY_MS, 'wechat is not logged in');
      return current;
    },
    selfId: () => login.selfId,
  };
  const core: WechatCore = { deps, bot, limiter: o.limiter, logger, settings };
  const identity = new Identity(core);
  const membership = new RoomMembership(core, identity);
  const gateway = new WechatGateway(core, identity, membership);
  const audit = new RosterAudit(core, membership);
  const rooms = new RoomBinding(core, identity, gateway);
  const chat = new PrivateChat(core, identity, gateway, o.conversation, rooms);
  const friendships = new Friendships(core, identity, gateway, o.conversation);

  // Event handlers run detached from Wechaty's emitter; each is tracked so a test (or stop) can wait.
  const inflight = new Set<Promise<void>>();
  const track = (what: string, fn: () => Promise<void>) => {
    const p: Promise<void> = fn()
      // The boundary for a WeChat event: logged once, as the error itself (stack, method, cause).
      .catch((err: unknown) => logger.error({ err, event: what }, 'wechat event handler failed'))
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  function attach(w: Wechaty) {
    const mine = () => current === w;
    w.on('error', (err: unknown) => {
      login.error(err);
      logger.warn({ err: errText(err) }, 'wechat error');
    });
    w.on('scan', (qr: string, status: types.ScanStatus) => {
      if (mine()) login.onScan(qr, status);
    });
    w.on('login', (user: Contact) => {
      if (!mine()) return;
      login.onLogin({ id: user.id, name: user.name() });
      logger.info({}, 'wechat logged in');
    });
    w.on('logout', () => {
      if (!mine()) return;
      login.onLogout();
      logger.warn({}, 'wechat logged out; queued work waits for the next login');
    });
    w.on('message', (m: Message) => {
      if (mine()) track('message', () => chat.onMessage(m));
    });
    w.on('friendship', (f: Friendship) => {
      if (mine()) track('friendship', () => friendships.onFriendship(f));
    });
    w.on('room-join', (room: Room, invitees: Contact[]) => {
      if (mine()) track('room-join', () => membership.onRoomJoin(room, invitees));
    });
  }

  async function start(isRestart = false): Promise<void> {
    if (o.mayRun && !o.mayRun()) return;
    if (!current) {
      current = (o.createWechaty ?? (() => productionWechaty(o.config)))();
      attach(current);
    }
    if (started === current) return;
    login.starting(isRestart);
    try {
      await current.start();
      started = current;
      login.started();
    } catch (err) {
      login.failed(err);
      logger.error({ err: errText(err) }, 'wechat failed to start');
    }
  }

  async function stop(): Promise<void> {
    const w = started;
    started = null;
    if (w) {
      try {
        await w.stop();
      } catch (err) {
        logger.warn({ err: errText(err) }, 'wechat stop failed');
      }
    }
    login.stopped();
  }

  return {
    gateway,
    login,
    sweeps: [
      { name: 'wechatAdds', run: () => membership.sweepTimeouts() },
      { name: 'wechatRoster', run: () => audit.sweep() },
    ],
    routes: wechatAdminRoutes({ adminToken: o.adminToken, state: login, restart: () => restart() }),
    get wechaty() {
      return current;
    },
    health: () => login.health(),
    start: () => start(false),
    stop,
    restart,
    get busy() {
      return inflight.size > 0;
    },
    async idle() {
      for (let i = 0; i < 100 && inflight.size > 0; i++) await Promise.allSettled([...inflight]);
    },
  };

  async function restart(): Promise<void> {
    await stop();
    await start(true);
  }
}
