// Owner powers gained in the web playground cover playground groups only. Anyone can open the page, so
// a claim code redeemed there (with the real dialogue engine) must never reach a Telegram or WeChat group,
// even when the operator has one on the same service.
import { afterEach, describe, expect, it } from 'vitest';
import { extendMembership } from '../../../src/app/owners.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { auth, startTestService, type TestService } from '../../helpers/service.ts';

describe.each(DIALECTS)('a playground owner (%s)', (dialect) => {
  let t: TestService;
  afterEach(async () => {
    await t?.close();
  });

  it('acts on playground groups and on nothing else', async () => {
    t = await startTestService(dialect, { PLAYGROUND: 'on' });
    const { app, deps } = t.service;
    const { store, clock } = deps;
    const group = async (platform: string, chatId: string, title: string) =>
      (await app.inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform, chatId, title } })).json().id as number;
    const pgGroup = await group('playground', 'pg-room', 'Playground room');
    const tgGroup = await group('telegram', '-100123', 'Real Telegram group');
    const plan = await app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [tgGroup], name: 'Real', price: '9.90', currency: 'CNY', days: 30, starsPrice: 75 },
    });
    expect(plan.statusCode).toBe(201);

    // A paying Telegram member, and a playground member.
    const now = clock.now();
    const tgAccount = await store.accounts.upsert({ platform: 'telegram', platformUserId: '777', displayName: 'Real Person', locale: null }, now);
    const tgMember = await store.memberships.insert({ accountId: tgAccount.id, groupId: tgGroup, status: 'active', expiresAt: now + 86_400_000 }, now);
    const pgAccount = await store.accounts.upsert({ platform: 'playground', platformUserId: `pg_${'1'.repeat(32)}`, displayName: 'Sim', locale: null }, now);
    const pgMember = await store.memberships.insert({ accountId: pgAccount.id, groupId: pgGroup, status: 'active', expiresAt: now + 86_400_000 }, now);

    // Someone on the page redeems an owner claim.
    const made = (await app.inject({ method: 'POST', url: '/playground/api/people', payload: { name: 'Eve' } })).json() as { userId: string; token: string };
    const say = async (text: string) => {
      const r = await app.inject({
        method: 'POST',
        url: '/playground/api/send',
        headers: { authorization: `Bearer ${made.token}` },
        payload: { userId: made.userId, text, locale: 'en' },
      });
      expect(r.statusCode).toBe(200);
      return (r.json().replies as Array<{ text?: string }>).map((x) => x.text ?? '').join('\n');
    };
    const code = (await app.inject({ method: 'POST', url: '/api/owner-claims', headers: auth })).json().code as string;
    await say(code);
    const eve = (await store.accounts.find('playground', made.userId))!;
    expect(eve.isOwner).toBe(true);
    const jobsBefore = (await store.jobs.list({})).length;

    // Nothing on the Telegram group: not listed, not readable, not changeable.
    const groups = await say('/groups');
    expect(groups).toContain('Playground room');
    expect(groups).not.toContain('Real Telegram group');
    expect(await say(`/members ${tgGroup}`)).toMatch(/not one of your groups/);
    expect(await say(`/members ${tgGroup}`)).not.toContain('Real Person');
    for (const cmd of [
      `/extend ${tgMember.id} 365`,
      `/remove ${tgMember.id}`,
      `/ban ${tgMember.id}`,
      `/broadcast ${tgGroup} free access for all`,
      `/addplan ${tgGroup} 0.01 CNY 3650 Free`,
      `/disableplan ${plan.json().id}`,
    ]) {
      expect(await say(cmd), cmd).toMatch(/not one of your groups/);
    }
    expect(await store.memberships.get(tgMember.id)).toMatchObject({ status: 'active', expiresAt: now + 86_400_000 });
    expect((await store.plans.list({ groupId: tgGroup })).map((p) => [p.name, p.active])).toEqual([['Real', true]]);
    expect((await store.jobs.list({})).length).toBe(jobsBefore);
    // The use case refuses too, whichever adapter calls it.
    await expect(extendMembership(deps, { actor: { kind: 'account', accountId: eve.id }, membershipId: tgMember.id, days: 30 })).rejects.toThrow(
      /not one of your groups/,
    );

    // The playground group is theirs to run.
    expect(await say(`/extend ${pgMember.id} 10`)).not.toMatch(/only an owner/);
    expect((await store.memberships.get(pgMember.id))!.expiresAt).toBe(now + 11 * 86_400_000);
    expect(await say(`/members ${pgGroup}`)).toContain('Sim');
  });
});
