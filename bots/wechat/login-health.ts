// Login and health. The login QR is printed on the terminal (never through the logger: whoever scans it
// controls the bot's account) and served to the owner by the admin API; login, logout, reconnects and
// errors are tracked and shown in /healthz (state only: no names, no QR there, it is public).
import type { FastifyInstance } from 'fastify';
import QRCode from 'qrcode';
import { types } from 'wechaty';
import type { Clock } from '../../src/app/ports.ts';
import { toIso } from '../../src/domain/time.ts';
import { adminAuth } from '../../src/http/admin-auth.ts';
import { errText } from './wechat-context.ts';

export type LoginStatus = 'stopped' | 'starting' | 'waiting_for_scan' | 'scanned' | 'logged_in' | 'logged_out' | 'failed';

export class LoginState {
  status: LoginStatus = 'stopped';
  private qr: string | null = null;
  private qrAt: number | null = null;
  private user: { id: string; name: string } | null = null;
  private since: number;
  private lastError: { at: number; message: string } | null = null;
  private counts = { logins: 0, logouts: 0, restarts: 0, errors: 0 };

  constructor(
    private readonly clock: Clock,
    /** Shows a new login QR to the person at the terminal. */
    private readonly printQr: (qr: string) => void,
  ) {
    this.since = clock.now();
  }

  private set(status: LoginStatus) {
    if (this.status !== status) this.since = this.clock.now();
    this.status = status;
  }

  get loggedIn(): boolean {
    return this.status === 'logged_in';
  }

  get selfId(): string | null {
    return this.status === 'logged_in' ? (this.user?.id ?? null) : null;
  }

  starting(restart: boolean) {
    if (restart) this.counts.restarts++;
    this.set('starting');
  }

  /** The puppet is up; until a scan or login event says more, it waits for a login. */
  started() {
    if (this.status === 'starting') this.set('waiting_for_scan');
  }

  stopped() {
    this.qr = null;
    this.set('stopped');
  }

  failed(err: unknown) {
    this.error(err);
    this.set('failed');
  }

  onScan(qr: string, status: types.ScanStatus) {
    if (status === types.ScanStatus.Scanned || status === types.ScanStatus.Confirmed) {
      this.set('scanned');
      return;
    }
    // Waiting, Timeout (a fresh code follows), Cancel, Unknown: a code to scan.
    if (qr && qr !== this.qr) {
      this.qr = qr;
      this.qrAt = this.clock.now();
      this.printQr(qr);
    }
    this.set('waiting_for_scan');
  }

  onLogin(user: { id: string; name: string }) {
    this.user = user;
    this.qr = null;
    this.counts.logins++;
    this.set('logged_in');
  }

  onLogout() {
    this.counts.logouts++;
    this.set('logged_out');
  }

  error(err: unknown) {
    this.counts.errors++;
    this.lastError = { at: this.clock.now(), message: errText(err).slice(0, 200) };
  }

  /** Facts for /healthz: state and counters, nothing personal. */
  health(): Record<string, unknown> {
    return {
      status: this.status,
      loggedIn: this.loggedIn,
      since: toIso(this.since),
      qrAvailable: this.qr !== null,
      logins: this.counts.logins,
      logouts: this.counts.logouts,
      restarts: this.counts.restarts,
      errors: this.counts.errors,
      ...(this.lastError ? { lastErrorAt: toIso(this.lastError.at) } : {}),
    };
  }

  /** What the owner sees at GET /api/wechat/login. */
  view() {
    return {
      status: this.status,
      since: toIso(this.since),
      qr: this.qr,
      qrAt: this.qrAt === null ? null : toIso(this.qrAt),
      loggedInAs: this.loggedIn && this.user ? this.user.name : null,
      lastError: this.lastError ? { at: toIso(this.lastError.at), message: this.lastError.message } : null,
    };
  }
}

/** Prints the login QR on the terminal as text blocks. */
export function terminalQrPrinter(write: (s: string) => void = (s) => process.stdout.write(s)): (qr: string) => void {
  return (qr) => {
    QRCode.toString(qr, { type: 'terminal', small: true })
      .then((art) => write(`\nWeChat login: scan this code with the bot's WeChat account (also at GET /api/wechat/login):\n${art}\n`))
      .catch(() => write('\nWeChat login: a QR code is waiting; fetch it at GET /api/wechat/login\n'));
  };
}

/** Admin API (Bearer ADMIN_TOKEN): the login QR, and a restart of the puppet that keeps every queued job. */
export function wechatAdminRoutes(opts: { adminToken: string; state: LoginState; restart: () => Promise<void> }) {
  return async (app: FastifyInstance) => {
    app.addHook('onRequest', adminAuth(opts.adminToken));
    app.get('/api/wechat/login', async () => {
      const v = opts.state.view();
      return { ...v, qrImage: v.qr ? await QRCode.toDataURL(v.qr, { width: 320, margin: 2 }) : null };
    });
    app.get('/api/wechat/login/qr.png', async (_req, reply) => {
      const v = opts.state.view();
      if (!v.qr) return reply.status(404).send({ error: 'not_found', message: `no login QR right now (status: ${v.status})` });
      const png = await QRCode.toBuffer(v.qr, { type: 'png', width: 320, margin: 2 });
      return reply.header('content-type', 'image/png').header('cache-control', 'no-store').send(png);
    });
    app.post('/api/wechat/restart', async (_req, reply) => {
      // Answer at once; the restart runs on. Jobs wait (RetryAfter) while logged out, so none is lost.
      void opts.restart().catch(() => {});
      return reply.status(202).send({ status: 'restarting' });
    });
  };
}
