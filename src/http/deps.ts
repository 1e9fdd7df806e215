import type { AppDeps } from '../app/deps.ts';
import type { Group } from '../app/model.ts';
import type { BotStanding } from '../app/ports.ts';
import type { DevProvider } from '../payments/dev/dev-provider.ts';
import type { MpOauth } from '../payments/wechatpay/mp-oauth.ts';

export interface HttpDeps {
  app: AppDeps;
  adminToken: string;
  /** Present when the dev provider is enabled: the pay page then offers its "pay" button. */
  devProvider?: DevProvider;
  /** Issue 21: the Official Account web authorization for JSAPI (WECHAT_MP_*), and the key its `state` is signed with. */
  wechatMp?: { oauth: MpOauth; stateSecret: string };
  /** The Telegram bot's token, when Telegram runs: the door's Mini App checks launch data with it (app/mini-app.ts). */
  telegramBotToken?: string | undefined;
  /** What the bot may do in a group, as the platform last told its adapter (null: nothing to tell, e.g. the playground). */
  botStanding?: (group: Group) => Promise<BotStanding | null>;
  /** Extra health facts from adapters (e.g. WeChat login state). */
  health?: () => Record<string, unknown>;
  /** WeChat's login, when WeChat is configured: its state and the code to scan while it waits for a login (the console's System page). */
  wechatLogin?: () => { status: string; qr: string | null };
  /** This instance's outbound limiter counters (platform → count), shown on /metrics. */
  outbound?: { calls: Map<string, number>; throttled: Map<string, number> };
  /** Held while a provider notification is handled, so the job worker gives it the database first (jobs/priority-gate.ts). */
  webhookGate?: { enter(): void; leave(): void };
}
