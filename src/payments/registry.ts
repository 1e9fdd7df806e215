// Builds the enabled payment providers from config. One line per provider; each lives in its own folder.
import type { PaymentProvider } from '../app/ports.ts';
import type { Config } from '../config.ts';
import type { Clock } from '../domain/time.ts';
import { DevProvider } from './dev/dev-provider.ts';

export interface ProviderContext {
  config: Config;
  clock: Clock;
  devPaySecret: string;
}

type Factory = (ctx: ProviderContext) => PaymentProvider;

const FACTORIES: Record<string, Factory> = {
  dev: (ctx) => new DevProvider(ctx.devPaySecret, ctx.clock),
};

/** `stars` is built by the Telegram adapter (it needs the bot), so it is not created here. */
export function createPaymentProviders(ctx: ProviderContext): PaymentProvider[] {
  return ctx.config.paymentProviders.filter((name) => Object.hasOwn(FACTORIES, name)).map((name) => FACTORIES[name]!(ctx));
}
