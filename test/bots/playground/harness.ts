// A whole service with the playground on: the real PlaygroundGateway (no test gateway given), a fake
// clock (optionally under an OffsetClock, which turns time travel on) and a hand-written Conversation.
import QRCode from 'qrcode';
import { OffsetClock } from '../../../src/app/clocks.ts';
import { createCheckout, payPageUrl } from '../../../src/app/checkout.ts';
import type { AppDeps } from '../../../src/app/deps.ts';
import { loadConfig } from '../../../src/config.ts';
import type { Conversation, Inbound, Reply } from '../../../src/conversation/types.ts';
import { createService, type Service } from '../../../src/service.ts';
import type { PlaygroundGateway } from '../../../bots/playground/playground-gateway.ts';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { ADMIN_TOKEN, DEV_SECRET, memoryLogger } from '../../helpers/service.ts';

/**
 * Answers by a script: `/buy` checks out the first plan with the dev provider and sends the QR as an
 * image leading to the pay page; `/menu` offers choices; `/link` a link; anything else is echoed.
 * Every inbound message is kept in `received`.
 */
export class ScriptedConversation implements Conversation {
  readonly received: Inbound[] = [];
  deps: AppDeps | null = null;

  async handle(msg: Inbound): Promise<Reply[]> {
    this.received.push(msg);
    if (msg.choice !== undefined) return [{ type: 'text', text: `you chose ${msg.choice}` }];
    const text = msg.text ?? '';
    if (text === '/menu')
      return [
        {
          type: 'choices',
          text: 'Pick one',
          choices: [
            { value: 'plan:1', label: 'Monthly 9.90' },
            { value: 'plan:2', label: 'Yearly 99' },
          ],
        },
      ];
    if (text === '/link') return [{ type: 'link', text: 'Or pay here', url: 'http://gk.test/pay/x', label: 'Open' }];
    if (text === '/buy') {
      const deps = this.deps!;
      const plan = (await deps.store.plans.list({ activeOnly: true }))[0]!;
      const r = await createCheckout(deps, { platform: msg.platform, userId: msg.userId, planId: plan.id, provider: 'dev', displayName: msg.displayName });
      const png = await QRCode.toBuffer(r.checkout.qrContent, { type: 'png', width: 120 });
      return [{ type: 'image', png, caption: `Pay ${plan.name}`, url: payPageUrl(deps.settings.publicUrl, r.order.id) }];
    }
    if (text.trim() === '') return [{ type: 'text', text: 'help: send /buy' }];
    return [{ type: 'text', text: `echo ${[...text].length}` }];
  }
}

export interface Playground {
  db: TestDb;
  fake: FakeClock;
  clock: FakeClock | OffsetClock;
  service: Service;
  gateway: PlaygroundGateway;
  conversation: ScriptedConversation;
  close(): Promise<void>;
}

/** `db`: run on this database (a restart); the new playground closes it. */
export async function startPlayground(opts: { timeTravel?: boolean; env?: Record<string, string>; db?: TestDb } = {}): Promise<Playground> {
  const db = opts.db ?? (await openTestDb('sqlite'));
  const fake = new FakeClock();
  const clock = opts.timeTravel ? new OffsetClock(fake) : fake;
  const conversation = new ScriptedConversation();
  const config = loadConfig({
    DATA_DIR: '/nonexistent-test-data-dir',
    DATABASE_URL: db.url,
    ADMIN_TOKEN,
    DEV_PAY_SECRET: DEV_SECRET,
    PUBLIC_URL: 'http://gk.test',
    GRACE_HOURS: '24',
    ...opts.env,
  });
  const service = await createService({
    config,
    adminToken: ADMIN_TOKEN,
    devPaySecret: DEV_SECRET,
    store: db.store,
    clock,
    logger: memoryLogger(),
    conversation,
    worker: { random: () => 0.5 },
  });
  conversation.deps = service.deps;
  return {
    db,
    fake,
    clock,
    service,
    gateway: service.playground!,
    conversation,
    async close() {
      await service.stop();
      await db.close();
    },
  };
}

/** A playground group with one plan, through the admin API. */
export async function addGroupAndPlan(service: Service, chatId = 'room-1', title = 'Readers club') {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const g = await service.app.inject({ method: 'POST', url: '/api/groups', headers, payload: { platform: 'playground', chatId, title } });
  if (g.statusCode !== 201) throw new Error(g.body);
  const p = await service.app.inject({
    method: 'POST',
    url: '/api/plans',
    headers,
    payload: { groupIds: [g.json().id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30 },
  });
  if (p.statusCode !== 201) throw new Error(p.body);
  return { groupId: g.json().id as number, planId: p.json().id as number };
}

/** Session tokens of the people created through createPerson, by public id (what the browser keeps). */
const tokens = new Map<string, string>();

export async function createPerson(service: Service, name: string, remoteAddress?: string): Promise<string> {
  const r = await service.app.inject({ method: 'POST', url: '/playground/api/people', payload: { name }, ...(remoteAddress ? { remoteAddress } : {}) });
  if (r.statusCode !== 201) throw new Error(r.body);
  tokens.set(r.json().userId, r.json().token);
  return r.json().userId as string;
}

export const tokenOf = (userId: string): string => tokens.get(userId) ?? '';
/** The headers the page sends when acting as this person. */
export const as = (userId: string) => ({ authorization: `Bearer ${tokenOf(userId)}` });
