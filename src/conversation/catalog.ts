// Renders catalogue messages in a person's locale. The only place user-facing text is produced from keys.
import type { MessageCatalog, MessageRef } from '../app/ports.ts';
import { createDateTimeFormatter, localizeAmounts } from './format.ts';
import { en, type MessageKey } from './i18n/en.ts';
import { zhCN } from './i18n/zh-CN.ts';
import { fillTemplate } from './template.ts';

const CATALOGUES: Record<string, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };
export const LOCALES = Object.keys(CATALOGUES);

/** Parameters holding amounts written by `formatMoney` ("9.90 CNY"); shown as the locale reads them. */
const MONEY_PARAMS = new Set(['amount', 'price', 'revenue', 'refunded', 'charged']);
/** Parameters that are instants (epoch ms): names ending in `At` or `Until`. */
const isTimeParam = (name: string) => name.endsWith('At') || name.endsWith('Until');

/** Maps a platform's language code (`zh-hans`, `en-US`, `zh`) to one of our catalogues. */
export function resolveLocale(locale: string | null | undefined, fallback: string): string {
  const l = (locale ?? '').toLowerCase();
  if (l.startsWith('zh')) return 'zh-CN';
  if (l.startsWith('en')) return 'en';
  return CATALOGUES[fallback] ? fallback : 'en';
}

export function createCatalog(opts: { defaultLocale: string; timeZone: string }): MessageCatalog {
  const formatDate = createDateTimeFormatter(opts.timeZone);
  return {
    render(locale: string | null, msg: MessageRef): string {
      const loc = resolveLocale(locale, opts.defaultLocale);
      const template = CATALOGUES[loc]![msg.key as MessageKey] ?? en[msg.key as MessageKey];
      if (template === undefined) throw new Error(`no message "${msg.key}" in the catalogue`);
      return fillTemplate(template, loc, msg.params, (name, v) => {
        if (isTimeParam(name) && typeof v === 'number') return formatDate(loc, v);
        if (MONEY_PARAMS.has(name) && typeof v === 'string') return localizeAmounts(v, loc);
        return String(v);
      });
    },
  };
}
