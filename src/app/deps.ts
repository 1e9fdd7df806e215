import type { StarsRates } from '../domain/pricing.ts';
import type { Platform } from './model.ts';
import type { ChatGateway, Clock, Logger, MessageCatalog, PaymentProvider, Store } from './ports.ts';

/** Settings the use cases read; main.ts fills them from config. */
export interface AppSettings {
  publicUrl: string;
  orderTtlMs: number;
  defaultGraceMs: number;
  defaultReminderOffsetsMs: number[];
  defaultLocale: string;
  tzDisplay: string;
  /** Join review: the default hours to decide (REVIEW_WINDOW_HOURS; a group may set its own). 72 when unset. */
  reviewWindowHours?: number;
  /** CONSOLE_SESSION_DAYS: an owner console session ends after this many days unused (7 when unset). */
  consoleSessionDays?: number;
  /** Raw webhook bodies older than this are emptied by the tick (30 days when unset). */
  webhookPayloadRetentionMs?: number;
  /** STARS_PER_UNIT: stars per unit of a currency, for plans without their own Stars price (none when unset). */
  starsRates?: StarsRates;
  /** PAYSUPPORT_TEXT: the answer to /paysupport; unset, the catalogue's default in the person's language. */
  paySupportText?: string | null;
  /** REFERRAL_REWARD_DAYS: days a referral earns where a group sets none (7 when unset; src/app/referrals.ts). */
  referralRewardDays?: number;
  /** DIGEST_HOUR: the hour (0–23, in TZ_DISPLAY) owners get their daily digest (9 when unset; src/app/digest.ts). */
  digestHour?: number;
}

/** Everything a use case may touch, passed in by the composition root (or a test). */
export interface AppDeps {
  store: Store;
  clock: Clock;
  providers: Map<string, PaymentProvider>;
  gateways: Map<Platform, ChatGateway>;
  messages: MessageCatalog;
  logger: Logger;
  settings: AppSettings;
  /** Wakes the job worker after a transaction that enqueued work, so invites go out at once. */
  onJobsEnqueued?: () => void;
}
