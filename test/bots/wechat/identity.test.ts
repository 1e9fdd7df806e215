// Contact ids that change after a re-login: the account is matched again by the bot's remark or the
// WeChat ID, never duplicated and never by display name; rooms, audits and removals follow the new id.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aliasTag } from '../../../bots/wechat/identity.ts';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { bindWithPlan, botRoom, buy, loginBot, makeOwner, person, say, settle, startWorld, type World } from './harness.ts';
import type { ContactMock } from '../../fakes/wechaty-mock-extensions.ts';

describe.each(DIALECTS)('WeChat identity across re-logins (%s)', (dialect) => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld(dialect);
  });
  afterEach(async () => {
    await w.close();
  });

  async function relogin(...who: ContactMock[]): Promise<ContactMock[]> {
    await w.puppet.logout();
    const fresh = who.map((c) => w.puppet.reissueContactId(c));
    await loginBot(w);
    return fresh;
  }

  const accountCount = async () => (await w.db.opened.db.selectFrom('accounts').select('id').execute()).length;

  it('matched again by the remark the bot set: same account, same membership; the audit and the lapse removal follow the new id', async () => {
    const owner = person(w, 'Olivia');
    const room = botRoom(w, 'Club', [owner]);
    await makeOwner(w, owner);
    const { group } = await bindWithPlan(w, owner, room);
    const alice = person(w, 'Alice');
    await buy(w, alice);
    const account = (await w.db.store.accounts.find('wechat', alice.id))!;
    expect(w.mocker.contactPayload(alice.id).alias).toBe(aliasTag(account.id));
    const before = await accountCount();

    const [alice2] = await relogin(alice);
    expect(alice2!.id).not.toBe(alice.id);
    // The audit sees an unknown id in the room and a paid member missing: it matches them instead.
    await w.clock.advance(60_000);
    await w.service.scheduler.tick();
    await settle(w);
    expect(await w.db.store.roster.latestReport(group.id)).toBeNull();
    expect(w.puppet.textsTo(alice2!.id)).toEqual([]);
    expect((await w.db.store.accounts.get(account.id))!.platformUserId).toBe(alice2!.id);
    expect(await w.db.store.accounts.find('wechat', alice.id)).toBeNull();
    const moves = (await w.db.store.audit.list({ subjectType: 'account', subjectId: String(account.id) })).filter(
      (a) => a.action === 'wechat.identity_rematched',
    );
    expect(moves).toEqual([
      expect.objectContaining({ reason: 'WeChat contact id changed (matched again by remark)', detail: { from: alice.id, to: alice2!.id } }),
    ]);

    await say(w, alice2!, '我的会员');
    expect(w.puppet.textsTo(alice2!.id).at(-1)).toMatch(/^Club: active until /);
    expect(await accountCount()).toBe(before);

    // At lapse the removal reaches her under the new id.
    await w.clock.advance(30 * DAY_MS + 25 * HOUR_MS);
    await w.service.scheduler.tick();
    await settle(w);
    expect(w.puppet.members(room.id)).not.toContain(alice2!.id);
    expect(w.puppet.ops.filter((o) => o.op === 'del')).toEqual([expect.objectContaining({ contactId: alice2!.id, outcome: 'removed' })]);
  });

  it("matched again by WeChat ID when the remark is the operator's own; a mere namesake is a different person", async () => {
    const bob = person(w, 'Bob', { handle: 'bob_wx', alias: 'Bobby from work' });
    await say(w, bob, '帮助');
    const account = (await w.db.store.accounts.find('wechat', bob.id))!;
    expect(w.mocker.contactPayload(bob.id).alias).toBe('Bobby from work'); // a hand-made remark is kept
    expect(await w.db.store.wechat.getIdentity(account.id)).toMatchObject({ handle: 'bob_wx', aliasTag: null });

    const [bob2] = await relogin(bob);
    await say(w, bob2!, '订单');
    expect(await w.db.store.accounts.find('wechat', bob2!.id)).toMatchObject({ id: account.id });
    const moves = (await w.db.store.audit.list({ subjectType: 'account', subjectId: String(account.id) })).filter(
      (a) => a.action === 'wechat.identity_rematched',
    );
    expect(moves[0]!.reason).toBe('WeChat contact id changed (matched again by wechat id)');

    // Another "Bob" with no remark and no WeChat ID gets an account of his own.
    const otherBob = person(w, 'Bob');
    await say(w, otherBob, '帮助');
    const other = (await w.db.store.accounts.find('wechat', otherBob.id))!;
    expect(other.id).not.toBe(account.id);
    expect((await w.db.store.accounts.get(account.id))!.platformUserId).toBe(bob2!.id);
  });

  it('a job addressed to the old id finds the person under the new one', async () => {
    const carol = person(w, 'Carol');
    await say(w, carol, '帮助');
    const account = (await w.db.store.accounts.find('wechat', carol.id))!;
    const [carol2] = await relogin(carol);
    // Nobody has written since: the account still holds the old id when the job runs.
    expect((await w.db.store.accounts.get(account.id))!.platformUserId).toBe(carol.id);
    let sent = false;
    const sending = w.service.deps.gateways
      .get('wechat')!
      .sendText(carol.id, 'hello again', { lane: 'notice' })
      .then(() => {
        sent = true;
      });
    await settle(w, { until: () => sent });
    await sending;
    expect(w.puppet.textsTo(carol2!.id)).toEqual(['hello again']);
    expect((await w.db.store.accounts.get(account.id))!.platformUserId).toBe(carol2!.id);
  });
});
