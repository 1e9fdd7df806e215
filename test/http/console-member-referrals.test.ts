// A member's page in the console shows their referrals in that group (issue 15 part 3): who brought them and what
// that earned, and whom they brought with each reward's outcome. Another owner's group's referrals stay out.
import { describe, expect } from 'vitest';
import { consoleScene, type ConsoleScene } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

describe.each(DIALECTS)('console member referrals (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: ConsoleScene }>({ scene: async ({ t }, use) => use(await consoleScene(t)) });

  it("shows who brought a member and whom they brought, in this owner's group only", async ({ t, scene: { one, two, ownerA, signIn, get } }) => {
    const deps = t.service.deps;
    const now = deps.clock.now();
    const ann = (await deps.store.accounts.find('playground', 'ann'))!;
    const ben = (await deps.store.accounts.find('playground', 'ben'))!;
    // cat pays in ann's group (owner A's) after ann referred her; ben (owner B's group) was referred by ann too.
    const cat = await seedOrderDirect(deps, { userId: 'cat', chatId: 'room-1', price: '9.90', currency: 'CNY' });
    await payDevDirect(deps, cat.orderId);
    const catAccount = (await deps.store.accounts.find('playground', 'cat'))!;
    expect(await deps.store.referrals.setReferrer(catAccount.id, ann.id, now)).toBe(true);
    expect(await deps.store.referrals.setReferrer(ben.id, ann.id, now)).toBe(true);
    await deps.store.referrals.insertReward(
      { referrerId: ann.id, referredId: catAccount.id, groupId: one.groupId, orderId: cat.orderId, status: 'booked', reason: null, days: 7 },
      now,
    );
    await deps.store.referrals.insertReward(
      { referrerId: ann.id, referredId: ben.id, groupId: two.groupId, orderId: two.orderId, status: 'booked', reason: null, days: 9 },
      now,
    );
    const annMember = (await deps.store.memberships.list({ groupId: one.groupId })).find((m) => m.accountId === ann.id)!;
    const catMember = (await deps.store.memberships.list({ groupId: one.groupId })).find((m) => m.accountId === catAccount.id)!;

    const a = await signIn(ownerA);
    const annPage = await get(a, `/console/members/${annMember.id}`);
    expect(annPage.statusCode).toBe(200);
    const section = annPage.body.slice(annPage.body.indexOf('id="referrals"'));
    expect(section).toContain(`data-referred="${catAccount.id}"`);
    expect(section).toContain('reward booked: 7 days');
    // ben's reward is in owner B's group: not on owner A's page.
    expect(section).not.toContain(`data-referred="${ben.id}"`);
    expect(section).not.toContain('9 days');

    const catPage = await get(a, `/console/members/${catMember.id}`);
    expect(catPage.body).toMatch(/id="referred-by">Brought by ann \(playground · ann\) · reward booked: 7 days/);
    expect(catPage.body).not.toContain('data-referred=');

    // The operator sees ben's referral in owner B's group; ben brought nobody.
    const b = await signIn(null);
    const benMember = (await deps.store.memberships.list({ groupId: two.groupId })).find((m) => m.accountId === ben.id)!;
    const benPage = await get(b, `/console/members/${benMember.id}`);
    expect(benPage.body).toContain('Brought by ann');
    expect(benPage.body).not.toContain('data-referred=');
  });
});
