import { afterEach, describe, expect, it } from 'vitest';
import { PlaygroundGateway, renderReply, type PlaygroundEvent } from '../../../bots/playground/playground-gateway.ts';
import type { AcquireRequest } from '../../../src/jobs/outbound-limiter.ts';
import { DEFAULT_LIMITS, OutboundLimiter } from '../../../src/jobs/outbound-limiter.ts';
import { DAY_MS } from '../../../src/domain/time.ts';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { openTestDb, type TestDb } from '../../helpers/db.ts';

const ctx = { membershipId: 1, expiresAt: 0, groupTitle: 'G', locale: 'en' };

function setup(opts: { inboxLimit?: number } = {}) {
  const clock = new FakeClock();
  const limiter = new OutboundLimiter(clock, DEFAULT_LIMITS);
  const gateway = new PlaygroundGateway(limiter, clock, opts);
  const events: PlaygroundEvent[] = [];
  gateway.subscribe((e) => events.push(e));
  return { clock, limiter, gateway, events };
}

describe('PlaygroundGateway', () => {
  it("keeps what the bot sends in the person's inbox and announces each message", async () => {
    const { gateway, events, clock } = setup();
    await gateway.sendText('u1', 'hello', { lane: 'notice' });
    await gateway.sendChoices('u1', 'pick', [{ value: 'a', label: 'A' }], { lane: 'notice' });
    await gateway.sendImage('u1', Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'scan me', { lane: 'notice' });
    await gateway.sendText('u2', 'other person', { lane: 'reminder' });

    const inbox = gateway.inbox('u1');
    expect(inbox.map((e) => e.reply)).toEqual([
      { type: 'text', text: 'hello' },
      { type: 'choices', text: 'pick', choices: [{ value: 'a', label: 'A' }] },
      { type: 'image', src: 'data:image/png;base64,iVBORw==', caption: 'scan me' },
    ]);
    expect(inbox.every((e) => e.from === 'bot' && e.at === clock.now())).toBe(true);
    expect(inbox.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(gateway.inbox('u2')).toHaveLength(1);
    expect(gateway.inbox('nobody')).toEqual([]);
    expect(events.filter((e) => e.type === 'message').map((e) => (e as { userId: string }).userId)).toEqual(['u1', 'u1', 'u1', 'u2']);
  });

  it('bounds each inbox, dropping the oldest lines', async () => {
    const { gateway } = setup({ inboxLimit: 5 });
    for (let i = 0; i < 12; i++) await gateway.sendText('u1', `m${i}`, { lane: 'notice' });
    expect(gateway.inbox('u1').map((e) => (e.reply as { text: string }).text)).toEqual(['m7', 'm8', 'm9', 'm10', 'm11']);
  });

  it('keeps at most 200 lines by default', async () => {
    const { gateway } = setup();
    for (let i = 0; i < 230; i++) gateway.record('u1', i % 2 ? 'bot' : 'person', { type: 'text', text: String(i) });
    const inbox = gateway.inbox('u1');
    expect(inbox).toHaveLength(200);
    expect(inbox[0]!.reply).toEqual({ type: 'text', text: '30' });
  });

  it('invite adds to the roster and remove takes out, each announced once; memberStatus reads the roster', async () => {
    const { gateway, events } = setup();
    expect(await gateway.memberStatus('room', 'u1')).toBe('absent');
    expect(await gateway.invite('room', 'u1', ctx)).toBe('added');
    expect(await gateway.invite('room', 'u2', ctx)).toBe('added');
    expect(await gateway.invite('room', 'u1', ctx)).toBe('added'); // idempotent: no second event
    expect(await gateway.memberStatus('room', 'u1')).toBe('member');
    expect(gateway.members('room')).toEqual(['u1', 'u2']);
    await gateway.remove('room', 'u1', { ban: false });
    await gateway.remove('room', 'u1', { ban: false }); // already out: nothing to announce
    await gateway.remove('elsewhere', 'u9', { ban: true });
    expect(await gateway.memberStatus('room', 'u1')).toBe('absent');
    expect(gateway.isMember('room', 'u2')).toBe(true);
    expect(events.filter((e) => e.type === 'roster')).toEqual([
      { type: 'roster', chatId: 'room', members: ['u1'] },
      { type: 'roster', chatId: 'room', members: ['u1', 'u2'] },
      { type: 'roster', chatId: 'room', members: ['u2'] },
    ]);
  });

  it("waits for the outbound limiter before every call, in the call's lane", async () => {
    const clock = new FakeClock();
    const asked: AcquireRequest[] = [];
    let release: () => void = () => {};
    const gate = {
      acquire: (req: AcquireRequest) => {
        asked.push(req);
        return new Promise<void>((r) => (release = r));
      },
    };
    const gateway = new PlaygroundGateway(gate, clock);
    const sent = gateway.sendText('u1', 'hi', { lane: 'reminder' });
    await Promise.resolve();
    expect(gateway.inbox('u1')).toEqual([]); // not before the limiter says so
    release();
    await sent;
    expect(gateway.inbox('u1')).toHaveLength(1);

    const joined = gateway.invite('room', 'u1', ctx);
    release();
    await joined;
    const left = gateway.remove('room', 'u1', { ban: false });
    release();
    await left;
    const status = gateway.memberStatus('room', 'u1');
    release();
    await status;
    expect(asked).toEqual([
      { platform: 'playground', chatId: 'u1', isGroup: false, lane: 'reminder' },
      { platform: 'playground', chatId: 'room', isGroup: true, lane: 'invite' },
      { platform: 'playground', chatId: 'room', isGroup: true, lane: 'removal' },
      { platform: 'playground', chatId: 'room', isGroup: true, lane: 'system' },
    ]);
  });

  it('counts its calls on the shared limiter', async () => {
    const { gateway, limiter } = setup();
    await gateway.sendText('u1', 'a', { lane: 'notice' });
    await gateway.invite('room', 'u1', ctx);
    expect(limiter.stats.calls.get('playground')).toBe(2);
  });

  it('a throwing subscriber does not stop the others; unsubscribe stops delivery', async () => {
    const { gateway, events } = setup();
    const off = gateway.subscribe(() => {
      throw new Error('closed stream');
    });
    expect(gateway.subscriberCount).toBe(2);
    await gateway.sendText('u1', 'still delivered', { lane: 'notice' });
    expect(events).toHaveLength(1);
    off();
    expect(gateway.subscriberCount).toBe(1);
  });

  it('renders neutral replies for the page (image as a PNG data URL with its link)', () => {
    const png = Buffer.from('png-bytes');
    expect(renderReply({ type: 'image', png, caption: 'c', url: 'http://x/pay/1' })).toEqual({
      type: 'image',
      src: `data:image/png;base64,${png.toString('base64')}`,
      caption: 'c',
      url: 'http://x/pay/1',
    });
    expect(renderReply({ type: 'link', text: 't', url: 'http://x', label: 'l' })).toEqual({ type: 'link', text: 't', url: 'http://x', label: 'l' });
    expect(renderReply({ type: 'text', text: 'hi' })).toEqual({ type: 'text', text: 'hi' });
  });
});

describe('PlaygroundGateway.restoreRosters', () => {
  let db: TestDb;
  afterEach(async () => {
    await db.close();
  });

  it('puts every active or grace member of each playground group back in its roster, and nobody else', async () => {
    db = await openTestDb('sqlite');
    const { store } = db;
    const now = Date.UTC(2026, 0, 1);
    const g1 = await store.groups.insert(
      { platform: 'playground', platformChatId: 'room-1', title: 'One', ownerAccountId: null, graceMs: DAY_MS, reminderOffsetsMs: [] },
      now,
    );
    const g2 = await store.groups.insert(
      { platform: 'playground', platformChatId: 'room-2', title: 'Two', ownerAccountId: null, graceMs: DAY_MS, reminderOffsetsMs: [] },
      now,
    );
    const tg = await store.groups.insert(
      { platform: 'telegram', platformChatId: '-100', title: 'TG', ownerAccountId: null, graceMs: DAY_MS, reminderOffsetsMs: [] },
      now,
    );
    const acc = async (platform: 'playground' | 'telegram', id: string) =>
      (await store.accounts.upsert({ platform, platformUserId: id, displayName: id }, now)).id;
    const add = async (accountId: number, groupId: number, status: 'active' | 'grace' | 'expired' | 'revoked' | 'banned') =>
      store.memberships.insert({ accountId, groupId, status, expiresAt: now + DAY_MS }, now);
    const [ann, bob, cat, dan, eve] = [
      await acc('playground', 'ann'),
      await acc('playground', 'bob'),
      await acc('playground', 'cat'),
      await acc('playground', 'dan'),
      await acc('playground', 'eve'),
    ];
    await add(ann, g1.id, 'active');
    await add(bob, g1.id, 'grace');
    await add(cat, g1.id, 'expired');
    await add(dan, g1.id, 'revoked');
    await add(eve, g1.id, 'banned');
    await add(cat, g2.id, 'active');
    await add(await acc('telegram', '42'), tg.id, 'active');

    const { gateway, events } = setup();
    // A stale picture from before: restore replaces it.
    await gateway.invite('room-1', 'ghost', ctx);
    events.length = 0;
    await gateway.restoreRosters(store);

    expect(gateway.members('room-1').sort()).toEqual(['ann', 'bob']);
    expect(gateway.members('room-2')).toEqual(['cat']);
    expect(gateway.members('-100')).toEqual([]);
    expect(await gateway.memberStatus('room-1', 'ghost')).toBe('absent');
    expect(
      events
        .filter((e) => e.type === 'roster')
        .map((e) => (e as { chatId: string }).chatId)
        .sort(),
    ).toEqual(['room-1', 'room-2']);
  });
});
