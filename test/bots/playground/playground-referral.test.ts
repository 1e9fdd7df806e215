// The playground shows a referral reward (issue 16): two simulated people on the page, the real dialogue
// engine behind /playground/api/send; one asks for their invite code, the other types it and pays on the pay
// page, the scheduler ticks, and the reward lands in the first person's chat and membership.
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { auth, startTestService, type TestService } from '../../helpers/service.ts';

describe.each(DIALECTS)('a referral in the playground (%s)', (dialect) => {
  let t: TestService;
  afterEach(async () => {
    await t?.close();
  });

  it('one simulated person invites another, who pays: the reward lands', async () => {
    t = await startTestService(dialect, { PLAYGROUND: 'on', REFERRAL_REWARD_DAYS: '7' });
    const { app, deps } = t.service;
    const group = (
      await app.inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId: 'pg-room', title: 'Room' } })
    ).json().id as number;
    const plan = (
      await app.inject({
        method: 'POST',
        url: '/api/plans',
        headers: auth,
        payload: { groupIds: [group], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30 },
      })
    ).json().id as number;
    const person = async (name: string) =>
      (await app.inject({ method: 'POST', url: '/playground/api/people', payload: { name } })).json() as { userId: string; token: string };
    const say = async (p: { userId: string; token: string }, text: string) => {
      const r = await app.inject({
        method: 'POST',
        url: '/playground/api/send',
        headers: { authorization: `Bearer ${p.token}` },
        payload: { userId: p.userId, text, locale: 'en' },
      });
      expect(r.statusCode).toBe(200);
      return (r.json().replies as Array<{ text?: string }>).map((x) => x.text ?? '').join('\n');
    };
    const pay = async (p: { userId: string }) => {
      const c = await app.inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId: p.userId, planId: plan } });
      await app.inject({ method: 'POST', url: `/pay/${c.json().orderId as string}/dev-pay`, headers: { accept: 'application/json' } });
      await t.service.worker.drain();
    };
    const ann = await person('Ann');
    const ben = await person('Ben');
    await pay(ann);
    const annAccount = (await deps.store.accounts.find('playground', ann.userId))!;
    const before = (await deps.store.memberships.list({ accountId: annAccount.id, groupId: group }))[0]!.expiresAt;

    const code = /邀请码 ([A-Z0-9]{8})/.exec(await say(ann, '/invite-friends'))![1]!;
    expect(await say(ben, `邀请码 ${code}`)).toBe('Welcome! Ann invited you.');
    await pay(ben);
    await t.service.scheduler.tick();
    await t.service.worker.drain();

    expect((await deps.store.memberships.list({ accountId: annAccount.id, groupId: group }))[0]!.expiresAt).toBe(before + 7 * DAY_MS);
    // The bot's own messages to Ann (the test service records what the playground gateway is asked to send).
    const lines = t.gateway
      .of('text')
      .filter((c) => c.userId === ann.userId)
      .map((c) => c.text);
    expect(lines.some((l) => l.startsWith('Thank you for inviting Ben! 7 days were added to your membership of "Room"'))).toBe(true);
    expect(await say(ann, '/referrals')).toBe('You invited 1 person; 1 reward earned you 7 days. Send /invite-friends for your link.');
  });
});
