// Which currencies each payment rail takes, by its name: what each provider's supportsCurrency answers, and what
// the CLI (which never builds a real provider) tells the use cases, so `plan add` refuses there too a currency no
// enabled rail can take.
import { STARS } from '../domain/pricing.ts';
import { stripeSupportsCurrency } from './stripe/stripe-currency.ts';

const TAKES: Record<string, (currency: string) => boolean> = {
  /** The pretend rail takes anything: it is for trying things out. */
  dev: () => true,
  /** Domestic WeChat Pay and Alipay merchants settle in CNY only. */
  wechatpay: (c) => c === 'CNY',
  alipay: (c) => c === 'CNY',
  stripe: stripeSupportsCurrency,
  /** Telegram Stars (built by the Telegram adapter): Stars only, at a plan's Stars price. */
  stars: (c) => c === STARS,
};

/** Whether the rail of this name takes payments in this currency (an unknown rail takes none). */
export const railTakesCurrency = (rail: string, currency: string): boolean => (Object.hasOwn(TAKES, rail) ? TAKES[rail]!(currency) : false);
