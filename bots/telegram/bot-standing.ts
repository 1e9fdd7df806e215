// The bot's standing in a bound Telegram group, as its last my_chat_member update told group-binding.ts
// (which stores it): for the owner console's group page (src/http/console/pages/groups.ts) and anything else
// that reports it. Types only from the adapter, so reading it never loads telegraf.
import type { BotStanding } from '../../src/app/ports.ts';
import type { TelegramRepo } from './store-port.ts';

export async function telegramBotStanding(repo: Pick<TelegramRepo, 'getGroupState'>, groupId: number): Promise<BotStanding> {
  const s = await repo.getGroupState(groupId);
  return {
    platform: 'telegram',
    status: s?.botStatus ?? null,
    missing: s ? s.missingRights.split(',').filter(Boolean) : [],
    checkedAt: s?.updatedAt ?? null,
  };
}
