import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import type { PaymentProvider } from '../../src/app/ports.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Conversation, Inbound, Reply } from '../../src/conversation/types.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : r.type === 'image' ? r.caption : '')).join('\n');

describe.each(DIALECTS)('conversation engine (%s)', (dialect) => {
  let t: TestService;
  let deps: AppDeps;
  let bot: Conversation;
  let groupId: number;
  let planId: number;

  beforeEach(async () => {
    t = await startTestService(dialect);
    deps = t.service.deps;
    bot = createConversation(deps);
    const g = await deps.store.groups.insert(
      { platform: 'playground', platformChatId: 'club', title: 'Book club', ownerAccountId: null, graceMs: HOUR_MS, reminderOffsetsMs: [] },
      t.clock.now(),
    );
    groupId = g.id;
    planId = (await deps.store.plans.insert({ name: 'Monthly', priceMinor: 990, currency: 'CNY', durationDays: 30, groupIds: [g.id] }, t.clock.now())).id;
    // A plan of another platform is never offered here.
    const tg = await deps.store.groups.insert(
      { platform: 'telegram', platformChatId: '-100', title: 'TG', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      t.clock.now(),
    );
    await deps.store.plans.insert({ name: 'Telegram only', priceMinor: 100, currency: 'CNY', durationDays: 30, groupIds: [tg.id] }, t.clock.now());
  });
  afterEach(async () => {
    await t.close();
  });

  const say = (text: string, userId = 'alice', extra: Partial<Inbound> = {}) =>
    bot.handle({ platform: 'playground', userId, displayName: 'Alice', text, ...extra });
  const press = (choice: string, userId = 'alice') => bot.handle({ platform: 'playground', userId, choice });

  it('start → plans → "1" → QR image and pay link → paid → status', async () => {
    const hello = await say('/start');
    expect(hello[0]).toEqual({ type: 'text', text: expect.stringContaining('Hi Alice') });
    const menu = hello[1] as Extract<Reply, { type: 'choices' }>;
    expect(menu.choices).toEqual([{ value: `plan:${planId}`, label: 'Monthly: 9.90 CNY for 30 days' }]);
    const pay = await say('1');
    expect(pay[0]).toMatchObject({ type: 'image', caption: expect.stringContaining('Monthly: 9.90 CNY') });
    const img = pay[0] as Extract<Reply, { type: 'image' }>;
    expect(img.png.subarray(1, 4).toString()).toBe('PNG');
    expect(img.url).toMatch(/^http:\/\/gk\.test\/pay\/[A-Za-z0-9_-]{22}$/);
    expect(pay[1]).toMatchObject({ type: 'link', url: img.url });
    const orderId = img.url!.split('/').pop()!;
    await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    const status = await say('/status');
    expect(textOf(status)).toMatch(/Book club: active until/);
    const orders = await say('订单');
    expect(textOf(orders)).toMatch(/Monthly 9\.90 CNY: paid/);
  });

  it("Chinese keywords, full-width digits and the person's locale", async () => {
    const zh = await say('入群', 'wang', { locale: 'zh-CN', displayName: '小王' });
    expect(textOf(zh)).toContain('小王您好');
    expect(textOf(zh)).toContain('请选择套餐');
    const pay = await say('１', 'wang');
    expect(pay[0]).toMatchObject({ type: 'image', caption: expect.stringContaining('请扫码支付') });
    expect(textOf(await say('我的会员', 'wang'))).toContain('您还没有会员');
    expect(textOf(await say('续费', 'wang'))).toContain('请选择续费套餐');
    expect(textOf(await say('帮助', 'wang'))).toContain('发送 套餐');
  });

  it('remembers the last menu across a restart', async () => {
    await say('/plans');
    const restarted = createConversation(deps);
    const r = await restarted.handle({ platform: 'playground', userId: 'alice', text: '1' });
    expect(r[0]!.type).toBe('image');
  });

  it('answers empty, huge and emoji-only messages with a short help, never an error', async () => {
    for (const text of ['', '   ', 'x'.repeat(10 * 1024), '🎉🎉🎉', '\u0000\u202e', '/nosuchcommand']) {
      const r = await say(text);
      expect(textOf(r)).toMatch(/^Sorry, I did not understand that\./);
      expect(textOf(r)).not.toMatch(/Error|at .*\.ts/);
    }
    const weird = await bot.handle({ platform: 'playground', userId: 'alice', choice: 'plan:99999999999999999' });
    expect(textOf(weird)).toMatch(/did not understand/);
  });

  it('a plan number out of range and a disabled plan', async () => {
    await say('/plans');
    expect(textOf(await say('7'))).toBe('Please reply with a number from 1 to 1.');
    await deps.store.plans.setActive(planId, false);
    const r = await say('1');
    expect(textOf(r)).toMatch(/not on sale any more/);
    expect(textOf(await press(`plan:${planId}`))).toMatch(/not on sale any more/);
    expect(await t.db.opened.db.selectFrom('orders').selectAll().execute()).toHaveLength(0);
  });

  it('choosing the same plan twice shows the same open order; after it is paid a new one is made', async () => {
    const a = (await press(`plan:${planId}`))[0] as Extract<Reply, { type: 'image' }>;
    const b = (await press(`plan:${planId}`))[0] as Extract<Reply, { type: 'image' }>;
    expect(b.url).toBe(a.url);
    expect(await t.db.opened.db.selectFrom('orders').selectAll().execute()).toHaveLength(1);
    await t.service.app.inject({ method: 'POST', url: `/pay/${a.url!.split('/').pop()}/dev-pay`, headers: { accept: 'application/json' } });
    const again = await t.service.app.inject({ method: 'POST', url: `/pay/${a.url!.split('/').pop()}/dev-pay`, headers: { accept: 'application/json' } });
    expect(again.json().outcome).toBe('already_paid');
    const c = (await press(`plan:${planId}`))[0] as Extract<Reply, { type: 'image' }>;
    expect(c.url).not.toBe(a.url);
  });

  it('lets the member pick a provider when several can take the currency', async () => {
    const other: PaymentProvider = { ...deps.providers.get('dev')!, name: 'alipay', supportsCurrency: (c: string) => c === 'CNY' } as PaymentProvider;
    deps.providers.set('alipay', other);
    const r = await press(`plan:${planId}`);
    expect(r[0]).toMatchObject({
      type: 'choices',
      text: 'How would you like to pay for "Monthly"?',
      choices: [
        { value: `pay:${planId}:dev`, label: 'Test payment' },
        { value: `pay:${planId}:alipay`, label: 'Alipay' },
      ],
    });
    expect((await say('1'))[0]!.type).toBe('image');
  });

  it('owner commands: a non-owner gets the unknown-command reply; a claimed owner runs them', async () => {
    const unknown = await say('/frobnicate', 'mallory');
    for (const cmd of ['/stats', '/groups', `/extend 1 30`, `/broadcast ${groupId} hi`, '/ownerhelp']) {
      expect(await say(cmd, 'mallory')).toEqual(unknown);
    }
    const { code } = await createClaimCode(deps, { kind: 'admin', via: 'cli' });
    expect(textOf(await say(code, 'olivia'))).toMatch(/You are now an owner/);
    expect(textOf(await say(code, 'mallory'))).toMatch(/already used/);
    expect(textOf(await say('/groups', 'olivia'))).toMatch(/#\d+ Book club \(playground\): 0 with access; plans: #\d+ Monthly 9\.90 CNY\/30d/);
    const added = await say(`/addplan ${groupId} 99 CNY 365 Yearly pass`, 'olivia');
    expect(textOf(added)).toMatch(/Plan #\d+ "Yearly pass" added: 99\.00 CNY for 365 days/);
    expect(textOf(await say('/addplan x', 'olivia'))).toMatch(/^Usage: \/addplan/);
    expect(textOf(await say(`/addplan ${groupId} -5 CNY 30 Bad`, 'olivia'))).toMatch(/That did not work: price must not be negative/);

    // A member to act on.
    await press(`plan:${planId}`, 'bob');
    const order = (await deps.store.orders.page({ limit: 1 }))[0]!;
    await t.service.app.inject({ method: 'POST', url: `/pay/${order.id}/dev-pay`, headers: { accept: 'application/json' } });
    const members = textOf(await say(`/members ${groupId}`, 'olivia'));
    const membershipId = /#(\d+) /.exec(members)![1]!;
    expect(textOf(await say(`/extend ${membershipId} 0`, 'olivia'))).toMatch(/days must be a whole number from 1/);
    expect(textOf(await say(`/extend ${membershipId} 7 loyal reader`, 'olivia'))).toMatch(/now runs until/);
    expect(textOf(await say(`/members ${groupId} soon`, 'olivia'))).toBe('No members match.');
    expect(textOf(await say('/stats', 'olivia'))).toMatch(/2026-01: 1 member with access, revenue 9\.90 CNY, 0 renewals, 0 lapsed\./);
    expect(textOf(await say(`/broadcast ${groupId} Meeting tonight at 8`, 'olivia'))).toBe('Broadcast queued for 1 member.');
    await t.service.worker.drain();
    const sent = t.gateway.of('text').filter((c) => c.lane === 'broadcast');
    expect(sent).toEqual([expect.objectContaining({ userId: 'bob', text: '📣 Book club: Meeting tonight at 8' })]);
    expect(textOf(await say(`/refund ${order.id} duplicate`, 'olivia'))).toMatch(/Refund of order .* requested/);
    expect(textOf(await say(`/ban ${membershipId} spam`, 'olivia'))).toBe(`Membership #${membershipId} banned.`);
    expect(textOf(await say(`/unban ${membershipId}`, 'olivia'))).toBe(`Membership #${membershipId} unbanned.`);
    const audit = await deps.store.audit.list({ subjectType: 'membership', subjectId: membershipId });
    expect(audit.find((a) => a.action === 'membership.extend_by_owner')).toMatchObject({ reason: 'loyal reader' });
  });

  it('/members answers with the member list only, not the /addplan usage after it', async () => {
    const { code } = await createClaimCode(deps, { kind: 'admin', via: 'cli' });
    await say(code, 'olivia');
    await press(`plan:${planId}`, 'bob');
    const order = (await deps.store.orders.page({ limit: 1 }))[0]!;
    await t.service.app.inject({ method: 'POST', url: `/pay/${order.id}/dev-pay`, headers: { accept: 'application/json' } });
    const replies = await say(`/members ${groupId}`, 'olivia');
    expect(replies).toHaveLength(1);
    expect(textOf(replies)).toMatch(/^#\d+ bob: active until /);
    expect(textOf(replies)).not.toMatch(/Usage/);
  });

  it('an expired claim code is refused', async () => {
    const { code } = await createClaimCode(deps, { kind: 'admin', via: 'cli' });
    await t.clock.advance(25 * HOUR_MS);
    expect(textOf(await say(code, 'late'))).toMatch(/That did not work: this claim code has expired/);
    expect((await deps.store.accounts.find('playground', 'late'))?.isOwner).toBe(false);
  });

  it('a deep-link payload picks a plan or records a referral', async () => {
    const r = await say(`/start plan-${planId}`, 'deep');
    expect(r[0]!.type).toBe('image');
    const referrer = (await deps.store.accounts.find('playground', 'deep'))!;
    // The playground has no deep links: the code to type comes with /invite-friends.
    const invite = textOf(await say('/invite-friends', 'deep'));
    const code = /邀请码 ([A-Z0-9]{8})/.exec(invite)![1]!;
    // A sequential account id is no longer a referral (it could be walked).
    await say(`/start ref-${referrer.id}`, 'friend');
    expect((await deps.store.accounts.find('playground', 'friend'))!.referredBy).toBeNull();
    expect(textOf(await say(`/start ref-${code}`, 'friend'))).toMatch(/^Welcome! Alice invited you\./);
    expect((await deps.store.accounts.find('playground', 'friend'))!.referredBy).toBe(referrer.id);
    expect(textOf(await say(`/start ref-${code}`, 'deep'))).toMatch(/^That is your own invite code/);
    expect((await deps.store.accounts.find('playground', 'deep'))!.referredBy).toBeNull();
  });

  it("renew offers the plans of the member's groups and says the time is kept", async () => {
    const r = await say('/renew', 'x');
    expect((r[0] as Extract<Reply, { type: 'choices' }>).text).toMatch(/new period starts when your current one ends/);
  });
});
