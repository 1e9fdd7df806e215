// Builds the enabled payment providers from config. One line per provider; each lives in its own folder.
import type { PaymentProvider } from '../app/ports.ts';
import type { Config } from '../config.ts';
import type { Clock } from '../domain/time.ts';
import { AlipayProvider } from './alipay/alipay-provider.ts';
import { DevProvider } from './dev/dev-provider.ts';
import { createWechatPayProvider } from './wechatpay/wechatpay-provider.ts';
import { StripeProvider } from './stripe/stripe-provider.ts';

export interface ProviderContext {
  config: Config;
  clock: Clock;
  devPaySecret: string;
}

type Factory = (ctx: ProviderContext) => PaymentProvider;

const FACTORIES: Record<string, Factory> = {
  dev: (ctx) => new DevProvider(ctx.devPaySecret, ctx.clock),
  alipay: (ctx) => new AlipayProvider(ctx.config.alipay!, ctx.clock, { wap: ctx.config.phonePay.alipayWap }),
  wechatpay: (ctx) =>
    createWechatPayProvider(ctx.config.wechatpay!, ctx.clock, {
      refundNotifyUrl: `${ctx.config.publicUrl}/webhooks/wechatpay`,
      h5: ctx.config.phonePay.wechatpayH5,
      ...(ctx.config.phonePay.wechatMp ? { jsapiAppid: ctx.config.phonePay.wechatMp.appid } : {}),
    }),
  stripe: (ctx) => new StripeProvider(ctx.config.stripe!, ctx.clock),
};

/** `stars` is built by the Telegram adapter (it needs the bot), so it is not created here. */
export function createPaymentProviders(ctx: ProviderContext): PaymentProvider[] {
  return ctx.config.paymentProviders.filter((name) => Object.hasOwn(FACTORIES, name)).map((name) => FACTORIES[name]!(ctx));
}
