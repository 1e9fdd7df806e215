// The bot's standing in a bound WeChat room: WeChat lets only the room's owner (群主) add and remove people,
// and room-binding.ts binds a room only while the bot owns it, so the binding is what is known. For the owner
// console's group page (src/http/console/pages/groups.ts). Types only from the adapter, so reading it never
// loads wechaty.
import type { BotStanding } from '../../src/app/ports.ts';
import type { WechatRepo } from './store-port.ts';

export async function wechatBotStanding(repo: Pick<WechatRepo, 'getBinding'>, groupId: number): Promise<BotStanding> {
  const b = await repo.getBinding(groupId);
  return { platform: 'wechat', boundAt: b?.boundAt ?? null };
}
