// Renders catalogue messages in a person's locale. The only place user-facing text is produced from keys.
import type { MessageCatalog, MessageRef } from '../app/ports.ts';
import { en, type MessageKey } from './i18n/en.ts';
import { zhCN } from './i18n/zh-CN.ts';

const CATALOGUES: Record<string, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };
export const LOCALES = Object.keys(CATALOGUES);

/** Maps a platform's language code (`zh-hans`, `en-US`, `zh`) to one of our catalogues. */
export function resolveLocale(locale: string | null | undefined, fallback: string): string {
  const l = (locale ?? '').toLowerCase();
  if (l.startsWith('zh')) return 'zh-CN';
  if (l.startsWith('en')) return 'en';
  return CATALOGUES[fallback] ? fallback : 'en';
}

export function createCatalog(opts: { defaultLocale: string; timeZone: string }): MessageCatalog {
  const dateFormats = new Map<string, Intl.DateTimeFormat>();
  const formatDate = (locale: string, ms: number) => {
    let f = dateFormats.get(locale);
    if (!f) {
      f = new Intl.DateTimeFormat(locale, {
        timeZone: opts.timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hour12: false,
      });
      dateFormats.set(locale, f);
    }
    return f.format(new Date(ms));
  };
  return {
    render(locale: string | null, msg: MessageRef): string {
      const loc = resolveLocale(locale, opts.defaultLocale);
      const template = CATALOGUES[loc]![msg.key as MessageKey] ?? en[msg.key as MessageKey];
      if (template === undefined) throw new Error(`no message "${msg.key}" in the catalogue`);
      return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
        const v = msg.params[name];
        if (v === undefined) return whole;
        return (name.endsWith('At') || name.endsWith('Until')) && typeof v === 'number' ? formatDate(loc, v) : String(v);
      });
    },
  };
}
