// What every Telegram feature file shares: the use-case deps, the rate-limited Bot API client, the clock,
// and two helpers every group call needs (render a catalogue message; follow a supergroup migration).
import { groupAudit } from '../../src/app/audit-entries.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Group } from '../../src/app/model.ts';
import { mayStay as rosterMayStay } from '../../src/app/roster.ts';
import type { Clock, Logger } from '../../src/app/ports.ts';
import { type BotApiClient, ChatMigratedError } from './bot-api-client.ts';
import type { TelegramRosterStatus, TelegramStore } from './store-port.ts';

/** The use-case deps, with the store as the Telegram adapter sees it (the core store plus its own tables). */
export interface TelegramDeps extends AppDeps {
  store: TelegramStore;
}

export interface TelegramContext {
  deps: TelegramDeps;
  client: BotApiClient;
  clock: Clock;
  logger: Logger;
  /** The bot's own user id once known (getMe at start). */
  botId(): number | null;
  /** True once stop() was called: loops and retries end. */
  stopping(): boolean;
}

export function render(c: TelegramContext, locale: string | null | undefined, key: string, params: Record<string, string | number> = {}): string {
  return c.deps.messages.render(locale ?? c.deps.settings.defaultLocale, { key, params });
}

/**
 * The group moved to a new chat id (basic group → supergroup). Its row follows, so plans, memberships,
 * links and the roster (all keyed by the group, not the chat id) stay with it. Idempotent.
 */
export async function followMigration(c: TelegramContext, oldChatId: string, newChatId: string): Promise<Group | null> {
  const { store, clock } = c.deps;
  if (oldChatId === newChatId) return store.groups.findByChat('telegram', newChatId);
  const already = await store.groups.findByChat('telegram', newChatId);
  if (already) return already;
  const moved = await store.transaction(async (tx) => {
    const g = await tx.telegram.migrateChat(oldChatId, newChatId);
    if (g) {
      await tx.audit.insert(
        groupAudit(clock.now(), 'system', g, 'group.migrate', `Telegram group became a supergroup: chat ${oldChatId} is now ${newChatId}`, {
          from: oldChatId,
          to: newChatId,
        }),
      );
    }
    return g;
  });
  if (moved) c.logger.info({ groupId: moved.id }, 'telegram group migrated to a supergroup');
  return moved;
}

/** Runs `fn` with the chat id; when Telegram answers that the group became a supergroup, moves the group and runs it again with the new id. */
export async function inChat<T>(c: TelegramContext, chatId: string, fn: (chatId: string) => Promise<T>): Promise<T> {
  try {
    return await fn(chatId);
  } catch (err) {
    if (!(err instanceof ChatMigratedError)) throw err;
    await followMigration(c, chatId, err.newChatId);
    return fn(err.newChatId);
  }
}

/** Who may stay in a group: the rule is app/roster.ts's; this only turns the roster entry into its facts. */
export async function mayStay(c: TelegramContext, group: Group, userId: string, isBot: boolean, status: TelegramRosterStatus): Promise<boolean> {
  const role = isBot ? 'bot' : status === 'admin' ? 'admin' : 'member';
  return (await rosterMayStay(c.deps.store, group, { userId, name: null, role })) !== null;
}
