// The console's Groups page (issue 15 part 5, second half) over app.inject, on SQLite and PostgreSQL: the
// session's groups only (another owner's group id in a URL is not found and changes nothing), every setting of
// SETTINGS on the form and saved through updateGroupSettings (bad values: the use case's one line, nothing
// saved), CSRF on every POST, the dry run, removing intruders and the whitelist after a confirmation, the bot's
// rights in plain words (Telegram's missing rights, a WeChat room's binding) and the owner's daily digest.
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import { issueLoginLink } from '../../src/app/console-auth.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { SETTINGS, settingsOf, updateGroupSettings } from '../../src/app/group-settings.ts';
import type { Group } from '../../src/app/model.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { dryRun, whitelist } from '../../src/app/roster.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import { consoleEn } from '../../src/conversation/i18n/console-en.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { HOUR_MS } from '../../src/domain/time.ts';
import { consoleClient } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import type { TestService } from '../helpers/service.ts';
import { RecordingGateway } from '../fakes/recording-gateway.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : '')).join('\n');

interface Browser {
  cookie: string;
  csrf: string;
}
interface Res {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
}

/** The error page's one line, as a person reads it. */
const errorOf = (res: Res) => {
  const m = /<div class="notice error" id="error">([^<]*)<\/div>/.exec(res.body);
  return m ? m[1]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))) : `(no error line; status ${res.statusCode})`;
};

/** The form as the page sends it: every setting's current value as the text the page shows. */
const formOf = (g: Group, b: Browser, over: Record<string, string> = {}) => ({
  _csrf: b.csrf,
  ...Object.fromEntries(SETTINGS.map((s) => [s.key, s.toText(s.read(g))])),
  ...over,
});

async function paidIn(t: TestService, userId: string, chatId: string) {
  const deps = t.service.deps;
  const s = await seedOrderDirect(deps, { userId, chatId, price: '9.90', currency: 'CNY' });
  await payDevDirect(deps, s.orderId);
  await t.service.worker.drain();
  return s.groupId;
}

describe.each(DIALECTS)('console Groups page (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{
    scene: {
      mine: number;
      theirs: number;
      ownerA: number;
      group: (id: number) => Promise<Group>;
      signIn: (accountId: number | null) => Promise<Browser>;
      get: (b: Browser | null, url: string) => Promise<Res>;
      post: (b: Browser | null, url: string, form: Record<string, string>) => Promise<Res>;
    };
  }>({
    scene: async ({ t }, use) => {
      const deps: AppDeps = t.service.deps;
      const bot = createConversation(deps);
      const say = async (userId: string, text: string) => textOf(await bot.handle({ platform: 'playground', userId, text }));
      const mine = await paidIn(t, 'ann', 'room-1');
      const theirs = await paidIn(t, 'ben', 'room-2');
      expect(await say('owner-a', (await createClaimCode(deps, admin, [mine])).code)).toMatch(/You are now an owner/);
      expect(await say('owner-b', (await createClaimCode(deps, admin, [theirs])).code)).toMatch(/You are now an owner/);
      const ownerA = (await deps.store.accounts.find('playground', 'owner-a'))!.id;
      const app = t.service.app;
      const { get, post, signIn } = consoleClient(app, deps);
      const group = async (id: number) => (await deps.store.groups.get(id))!;
      await use({ mine, theirs, ownerA, group, signIn, get, post });
    },
  });

  it('lists the session’s groups only; a group’s page shows every setting of SETTINGS with its value; another owner’s group is not found', async ({
    scene: { mine, theirs, ownerA, group, signIn, get, post },
  }) => {
    const b = await signIn(ownerA);
    const list = await get(b, '/console/groups');
    expect(list.body).toContain(`data-group="${mine}"`);
    expect(list.body).not.toContain(`data-group="${theirs}"`);
    const page = await get(b, `/console/groups/${mine}`);
    expect(page.statusCode).toBe(200);
    const g = await group(mine);
    for (const s of SETTINGS) {
      expect(page.body).toContain(`data-setting="${s.key}"`);
      const value = s.toText(s.read(g));
      if (s.choices) expect(page.body).toMatch(new RegExp(`<option value="${value}" selected>`));
      else expect(page.body).toContain(`name="${s.key}" id="setting-${s.key}" value="${value}"`);
    }
    expect(page.body).toContain('Grace period (hours)');
    expect(page.body).toContain('data-standing="playground"');

    // Another owner's group: not found on every route, and nothing changes.
    const before = settingsOf(await group(theirs));
    expect((await get(b, `/console/groups/${theirs}`)).statusCode).toBe(404);
    for (const [url, form] of [
      [`/console/groups/${theirs}/settings`, formOf(await group(theirs), b, { graceHours: '1' })],
      [`/console/groups/${theirs}/whitelist`, { _csrf: b.csrf, who: 'eve', confirm: 'yes' }],
      [`/console/groups/${theirs}/dry-run`, { _csrf: b.csrf }],
      [`/console/groups/${theirs}/remove-intruders`, { _csrf: b.csrf, confirm: 'yes' }],
    ] as const) {
      const res = await post(b, url, form);
      expect(res.statusCode, url).toBe(404);
      expect(errorOf(res)).toBe(`no group with id ${theirs}`);
    }
    expect(settingsOf(await group(theirs))).toEqual(before);
    expect(await group(theirs).then((g2) => g2.intruderPolicy)).toBe('report');
    expect((await get(b, '/console/groups/abc')).statusCode).toBe(400);
    // The operator sees every group.
    const op = await get(await signIn(null), '/console/groups');
    expect(op.body).toContain(`data-group="${mine}"`);
    expect(op.body).toContain(`data-group="${theirs}"`);
  });

  it('saves the settings form through updateGroupSettings (one audit entry); bad values are the use case’s one line and save nothing', async ({
    t,
    scene: { mine, ownerA, group, signIn, post, get },
  }) => {
    const b = await signIn(ownerA);
    const saved = await post(b, `/console/groups/${mine}/settings`, formOf(await group(mine), b, { graceHours: '48', reminders: '24, 72' }));
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe(`/console/groups/${mine}?done=settings`);
    const g = await group(mine);
    expect(g.graceMs).toBe(48 * HOUR_MS);
    expect(settingsOf(g).reminders).toEqual([72, 24]);
    const audit = (await t.service.deps.store.audit.list({ subjectType: 'group', subjectId: String(mine) })).filter((e) => e.action === 'group.settings');
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe(`account:${ownerA}`);
    expect(audit[0]!.reason).toMatch(/^grace hours \d+ h → 48 h; reminders .* → 72,24 h before expiry$/);
    expect((await get(b, `/console/groups/${mine}?done=settings`)).body).toContain('Settings saved.');

    const before = settingsOf(await group(mine));
    for (const [over, message] of [
      [{ graceHours: '-1' }, 'grace hours must be a whole number of hours from 0 to 720 (got "-1")'],
      [{ graceHours: '100000' }, 'grace hours must be a whole number of hours from 0 to 720 (got "100000")'],
      [{ graceHours: 'abc' }, 'grace hours must be a whole number of hours from 0 to 720 (got "abc")'],
      [{ graceHours: '' }, 'grace hours must be a whole number of hours from 0 to 720 (got "")'],
      [{ reminders: '72,abc,24' }, 'reminders must be a list of hours before expiry, e.g. 72,24 (got "72,abc,24")'],
      [{ reminders: '1,2,3,4,5,6,7,8,9,10,11' }, 'at most 10 reminders (got 11)'],
      [{ intruders: 'nuke' }, 'intruder policy must be report, remove or ignore (got "nuke")'],
      [{ joinMode: 'door' }, "join mode door needs Telegram's join-request queries"],
    ] as const) {
      // A good value given with the bad one is not saved either.
      const res = await post(b, `/console/groups/${mine}/settings`, formOf(await group(mine), b, { refundWindowHours: '5', ...over }));
      expect(res.statusCode, JSON.stringify(over)).toBe(400);
      const line = errorOf(res);
      expect(line.toLowerCase()).toContain(message.toLowerCase());
      expect(line).not.toMatch(/\n/);
    }
    expect(settingsOf(await group(mine))).toEqual(before);
    expect(
      (await t.service.deps.store.audit.list({ subjectType: 'group', subjectId: String(mine) })).filter((e) => e.action === 'group.settings'),
    ).toHaveLength(1);
  });

  it('a POST without the session’s CSRF token is refused and changes nothing', async ({ t, scene: { mine, ownerA, group, signIn, post } }) => {
    const b = await signIn(ownerA);
    const before = settingsOf(await group(mine));
    const digestBefore = (await t.service.deps.store.accounts.get(ownerA))!.digestOff;
    for (const [url, form] of [
      [`/console/groups/${mine}/settings`, { ...formOf(await group(mine), b, { graceHours: '1' }), _csrf: '' }],
      [`/console/groups/${mine}/settings`, { ...formOf(await group(mine), b, { graceHours: '1' }), _csrf: 'x'.repeat(43) }],
      [`/console/groups/${mine}/whitelist`, { who: 'eve', confirm: 'yes' }],
      [`/console/groups/${mine}/dry-run`, {}],
      [`/console/digest`, { digest: 'off' }],
    ] as const) {
      const res = await post(b, url, form as Record<string, string>);
      expect(res.statusCode, url).toBe(403);
    }
    expect(settingsOf(await group(mine))).toEqual(before);
    expect(await t.service.deps.store.roster.listWhitelist(mine)).toEqual([]);
    expect(await t.service.deps.store.roster.latestReport(mine)).toBeNull();
    expect((await t.service.deps.store.accounts.get(ownerA))!.digestOff).toBe(digestBefore);
    // No session at all: refused too.
    expect((await post(null, `/console/groups/${mine}/settings`, { graceHours: '1' })).statusCode).toBe(401);
  });

  it('the dry run lists intruders; "let stay" and the whitelist form add after a confirmation; removing from the whitelist too', async ({
    t,
    scene: { mine, ownerA, signIn, get, post },
  }) => {
    const deps = t.service.deps;
    const room = (await deps.store.groups.get(mine))!.platformChatId;
    t.gateway.roster(room).add('eve');
    t.gateway.roster(room).add('frank');
    const b = await signIn(ownerA);
    expect((await get(b, `/console/groups/${mine}`)).body).toContain('No check yet.');
    const run = await post(b, `/console/groups/${mine}/dry-run`, { _csrf: b.csrf });
    expect(run.statusCode).toBe(303);
    const page = (await get(b, `/console/groups/${mine}?done=dry_run`)).body;
    expect(page).toContain('data-intruder="1"');
    expect(page).toContain('data-intruder="2"');
    expect(page).not.toContain('<code>ann</code>');
    const report = (await deps.store.roster.latestReport(mine))!;
    const first = report.intruders[0]!;

    // "Let stay" on line #1: a confirmation naming the person, nothing written until confirmed.
    const ask = await post(b, `/console/groups/${mine}/whitelist`, { _csrf: b.csrf, who: '#1' });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain(`id="confirm-question">Let ${first.userId} stay in “`);
    expect(ask.body).toContain(`name="who" value="${first.userId}"`);
    expect(await deps.store.roster.listWhitelist(mine)).toEqual([]);
    const done = await post(b, `/console/groups/${mine}/whitelist`, { _csrf: b.csrf, who: first.userId, confirm: 'yes' });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(`/console/groups/${mine}?done=whitelist_add#whitelist`);
    expect((await deps.store.roster.listWhitelist(mine)).map((w) => w.userId)).toEqual([first.userId]);
    // The same again: nothing new.
    const again = await post(b, `/console/groups/${mine}/whitelist`, { _csrf: b.csrf, who: first.userId, confirm: 'yes' });
    expect(again.headers.location).toBe(`/console/groups/${mine}?done=whitelist_already#whitelist`);
    // By user id in the form.
    await post(b, `/console/groups/${mine}/whitelist`, { _csrf: b.csrf, who: 'grace_42', confirm: 'yes' });
    const listed = (await get(b, `/console/groups/${mine}`)).body;
    expect(listed).toContain(`data-whitelisted="${first.userId}"`);
    expect(listed).toContain('data-whitelisted="grace_42"');
    const audit = (await deps.store.audit.list({ subjectType: 'group', subjectId: String(mine) })).filter((e) => e.action === 'group.whitelist_add');
    expect(audit).toHaveLength(2);

    // Bad input: one line, nothing written.
    for (const [who, message] of [
      ['two words', 'Name a person by their user id on the platform, or #n from the latest check (got "two words").'],
      ['', 'Name a person by their user id'],
      ['#9', `no person #9 on the latest report of group ${mine}`],
    ] as const) {
      const res = await post(b, `/console/groups/${mine}/whitelist`, { _csrf: b.csrf, who, confirm: 'yes' });
      expect(res.statusCode, who).toBeGreaterThanOrEqual(400);
      expect(errorOf(res)).toContain(message);
    }
    expect(await deps.store.roster.listWhitelist(mine)).toHaveLength(2);

    // Off the whitelist, after a confirmation; someone not on it: not found.
    const off = await post(b, `/console/groups/${mine}/unwhitelist`, { _csrf: b.csrf, userId: 'grace_42' });
    expect(off.body).toContain('id="confirm-question">Take grace_42 off the whitelist');
    expect(await deps.store.roster.listWhitelist(mine)).toHaveLength(2);
    await post(b, `/console/groups/${mine}/unwhitelist`, { _csrf: b.csrf, userId: 'grace_42', confirm: 'yes' });
    expect((await deps.store.roster.listWhitelist(mine)).map((w) => w.userId)).toEqual([first.userId]);
    // Someone the whitelist knows by name is named with their id.
    await whitelist(deps, admin, (await deps.store.groups.get(mine))!, { userId: 'zoe_1', name: 'Zoe' });
    expect((await post(b, `/console/groups/${mine}/unwhitelist`, { _csrf: b.csrf, userId: 'zoe_1' })).body).toContain(
      'id="confirm-question">Take Zoe (id zoe_1) off the whitelist',
    );
    const missing = await post(b, `/console/groups/${mine}/unwhitelist`, { _csrf: b.csrf, userId: 'grace_42', confirm: 'yes' });
    expect(missing.statusCode).toBe(404);
    expect(errorOf(missing)).toBe(`grace_42 is not whitelisted in group ${mine}`);
  });

  it('intruders "remove": refused without the owner’s own dry run; after one, the settings form and the report’s button each ask first', async ({
    t,
    scene: { mine, ownerA, group, signIn, post },
  }) => {
    const room = (await group(mine)).platformChatId;
    t.gateway.roster(room).add('eve');
    const b = await signIn(ownerA);
    const refused = await post(b, `/console/groups/${mine}/settings`, formOf(await group(mine), b, { intruders: 'remove', graceHours: '5' }));
    expect(refused.statusCode).toBe(409);
    expect(errorOf(refused)).toMatch(/^intruder policy remove needs a dry run you saw within 24 hours/);
    expect((await group(mine)).intruderPolicy).toBe('report');
    expect((await group(mine)).graceMs).not.toBe(5 * HOUR_MS);
    const button = await post(b, `/console/groups/${mine}/remove-intruders`, { _csrf: b.csrf, confirm: 'yes' });
    expect(button.statusCode).toBe(409);
    expect(errorOf(button)).toMatch(/^Removing needs a check of who is in the group that you ran within 24 hours/);

    await post(b, `/console/groups/${mine}/dry-run`, { _csrf: b.csrf });
    // The settings form: a confirmation carrying every value, then the save.
    const ask = await post(b, `/console/groups/${mine}/settings`, formOf(await group(mine), b, { intruders: 'remove', graceHours: '5' }));
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('id="confirm-question">Remove intruders from “');
    expect(ask.body).toContain('name="graceHours" value="5"');
    expect((await group(mine)).intruderPolicy).toBe('report');
    // A typo next to "remove" is refused before any question.
    expect((await post(b, `/console/groups/${mine}/settings`, formOf(await group(mine), b, { intruders: 'remove', graceHours: 'x' }))).statusCode).toBe(400);
    // The report's button: the people on the owner's dry run are removed (queued), after a confirmation.
    const confirmAsk = await post(b, `/console/groups/${mine}/remove-intruders`, { _csrf: b.csrf });
    expect(confirmAsk.body).toMatch(/id="confirm-question">Remove 1 person from “[^”]+” \(eve\)/);
    expect((await group(mine)).intruderPolicy).toBe('report');
    const removed = await post(b, `/console/groups/${mine}/remove-intruders`, { _csrf: b.csrf, confirm: 'yes' });
    expect(removed.statusCode).toBe(303);
    expect((await group(mine)).intruderPolicy).toBe('remove');
    await t.service.worker.drain();
    expect(t.gateway.roster(room).has('eve')).toBe(false);
    // Back to report through the form, then remove through the form after confirming.
    await post(b, `/console/groups/${mine}/settings`, formOf(await group(mine), b, { intruders: 'report' }));
    expect((await group(mine)).intruderPolicy).toBe('report');
    const viaForm = await post(b, `/console/groups/${mine}/settings`, {
      ...formOf(await group(mine), b, { intruders: 'remove', graceHours: '5' }),
      confirm: 'yes',
    });
    expect(viaForm.statusCode).toBe(303);
    expect((await group(mine)).intruderPolicy).toBe('remove');
    expect((await group(mine)).graceMs).toBe(5 * HOUR_MS);
  });

  it('a save changes only what the owner changed on the page: a stale page does not undo a change made elsewhere; nothing changed is said', async ({
    t,
    scene: { mine, ownerA, group, signIn, post, get },
  }) => {
    const deps = t.service.deps;
    const b = await signIn(ownerA);
    const shown = await group(mine);
    const page = (await get(b, `/console/groups/${mine}`)).body;
    expect(page).toContain(`name="was.graceHours" value="${shown.graceMs / HOUR_MS}"`);
    // The page as it was shown (every field with its was.*), then intruders set to ignore from the chat meanwhile.
    const was = Object.fromEntries(SETTINGS.map((st) => [`was.${st.key}`, st.toText(st.read(shown))]));
    await updateGroupSettings(deps, { actor: admin, groupId: mine, changes: { intruders: 'ignore' } });
    const audits = async () => (await deps.store.audit.list({ subjectType: 'group', subjectId: String(mine) })).length;
    const before = await audits();
    const saved = await post(b, `/console/groups/${mine}/settings`, { ...formOf(shown, b, { graceHours: '7' }), ...was });
    expect(saved.headers.location).toBe(`/console/groups/${mine}?done=settings`);
    expect((await group(mine)).graceMs).toBe(7 * HOUR_MS);
    expect((await group(mine)).intruderPolicy).toBe('ignore');
    expect(await audits()).toBe(before + 1);
    // The same page sent back unchanged: nothing saved, and the owner is told.
    const fresh = await group(mine);
    const same = await post(b, `/console/groups/${mine}/settings`, {
      ...formOf(fresh, b),
      ...Object.fromEntries(SETTINGS.map((st) => [`was.${st.key}`, st.toText(st.read(fresh))])),
    });
    expect(same.headers.location).toBe(`/console/groups/${mine}?done=settings_same`);
    expect(await audits()).toBe(before + 1);
    expect((await get(b, same.headers.location as string)).body).toContain('Nothing changed');
  });

  it('under the "remove" policy the latest check’s people can still be removed with the button (the policy removes new joiners)', async ({
    t,
    scene: { mine, ownerA, group, signIn, post, get },
  }) => {
    const room = (await group(mine)).platformChatId;
    const b = await signIn(ownerA);
    await post(b, `/console/groups/${mine}/dry-run`, { _csrf: b.csrf });
    await post(b, `/console/groups/${mine}/settings`, { ...formOf(await group(mine), b, { intruders: 'remove' }), confirm: 'yes' });
    expect((await group(mine)).intruderPolicy).toBe('remove');
    // Someone was in the room before; a fresh check finds them and the button offers their removal.
    t.gateway.roster(room).add('mallory');
    await post(b, `/console/groups/${mine}/dry-run`, { _csrf: b.csrf });
    const page = (await get(b, `/console/groups/${mine}`)).body;
    expect(page).toContain('id="remove-intruders"');
    const removed = await post(b, `/console/groups/${mine}/remove-intruders`, { _csrf: b.csrf, confirm: 'yes' });
    expect(removed.statusCode).toBe(303);
    await t.service.worker.drain();
    expect(t.gateway.roster(room).has('mallory')).toBe(false);
  });

  it('the Remove button counts whom pressing it removes: the owner’s own recent check, not a report someone else ran', async ({
    t,
    scene: { mine, ownerA, group, signIn, post, get },
  }) => {
    const room = (await group(mine)).platformChatId;
    t.gateway.roster(room).add('trent');
    // An operator's check lists trent: the owner sees the report, but has no check of their own to act on.
    await dryRun(t.service.deps, admin, await group(mine));
    const b = await signIn(ownerA);
    const before = (await get(b, `/console/groups/${mine}`)).body;
    expect(before).toContain('data-intruder="1"');
    expect(before).not.toContain('id="remove-intruders"');
    await post(b, `/console/groups/${mine}/dry-run`, { _csrf: b.csrf });
    expect((await get(b, `/console/groups/${mine}`)).body).toMatch(/id="remove-intruders">\s*Remove this person/);
  });

  it('says the bot’s rights in plain words: Telegram’s missing rights per right, a WeChat room’s binding, in en and zh-CN', async ({
    t,
    scene: { signIn, get },
  }) => {
    const deps = t.service.deps;
    const tg = await addGroup(deps, { platform: 'telegram', chatId: '-1001', title: 'TG club', actor: admin });
    const wx = await addGroup(deps, { platform: 'wechat', chatId: 'room@chatroom', title: 'WX club', actor: admin });
    const b = await signIn(null);
    const words = async (id: number, lang = 'en') => {
      const body = (await get(b, `/console/groups/${id}?lang=${lang}`)).body;
      return /<div class="panel" id="bot-standing">([\s\S]*?)<\/div>/
        .exec(body)![1]!
        .replace(/<[^>]+>/g, '')
        .replace(/\s+/g, ' ');
    };
    expect(await words(tg.id)).toContain('Telegram has not told the bot anything about this group yet');
    // Telegram is not configured on this test service: said too.
    expect(await words(tg.id)).toContain('Telegram is not running on this service right now');

    await deps.store.telegram.setGroupState(tg.id, { botStatus: 'administrator', missingRights: 'restrict' }, t.clock.now());
    const restrict = await words(tg.id);
    expect(restrict).toContain('The bot cannot ban users here: make it an admin with “Ban users”.');
    expect(restrict).not.toContain('invite users');
    expect(restrict).toContain('Last checked on Telegram:');
    expect(await words(tg.id, 'zh-CN')).toContain('机器人在这里无法封禁用户：请在管理员权限中开启“封禁用户”。');

    await deps.store.telegram.setGroupState(tg.id, { botStatus: 'administrator', missingRights: 'invite,restrict' }, t.clock.now());
    const both = await words(tg.id);
    expect(both).toContain('The bot cannot invite users here');
    expect(both).toContain('The bot cannot ban users here');
    await deps.store.telegram.setGroupState(tg.id, { botStatus: 'member', missingRights: 'admin' }, t.clock.now());
    expect(await words(tg.id)).toContain('The bot is not an admin of this group: make it an admin with “Invite users via link” and “Ban users”.');
    await deps.store.telegram.setGroupState(tg.id, { botStatus: 'kicked', missingRights: 'admin' }, t.clock.now());
    expect(await words(tg.id)).toContain('The bot is not in this group any more');
    await deps.store.telegram.setGroupState(tg.id, { botStatus: 'administrator', missingRights: '' }, t.clock.now());
    expect(await words(tg.id)).toContain('The bot is an admin here and can invite and remove members.');

    expect(await words(wx.id)).toContain('This room was never bound in WeChat: make the bot the room’s owner (群主), then send /bind in the room.');
    await deps.store.wechat.bindRoom({ groupId: wx.id, roomId: 'room@chatroom', boundBy: null }, t.clock.now());
    expect(await words(wx.id)).toContain('The bot owned this room when it was bound');
    expect(await words(wx.id, 'zh-CN')).toContain('微信只允许群主拉人和踢人');
  });

  it('the daily digest: one control on the Groups page, saved through /digest’s use case; bad values refused', async ({
    t,
    scene: { ownerA, signIn, get, post },
  }) => {
    const deps = t.service.deps;
    const b = await signIn(ownerA);
    expect((await get(b, '/console/groups')).body).toContain('id="digest-state">On:');
    const off = await post(b, '/console/digest', { _csrf: b.csrf, digest: 'off' });
    expect(off.statusCode).toBe(303);
    expect(off.headers.location).toBe('/console/groups?done=digest_off');
    expect((await deps.store.accounts.get(ownerA))!.digestOff).toBe(true);
    expect((await get(b, '/console/groups?done=digest_off')).body).toContain('id="digest-state">Off:');
    const audit = await deps.store.audit.list({ subjectType: 'account', subjectId: String(ownerA) });
    expect(audit.filter((e) => e.action === 'owner.digest').map((e) => e.reason)).toEqual(['daily digest off']);
    const bad = await post(b, '/console/digest', { _csrf: b.csrf, digest: 'maybe' });
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad)).toBe('The digest is either on or off (got "maybe").');
    expect((await deps.store.accounts.get(ownerA))!.digestOff).toBe(true);
    await post(b, '/console/digest', { _csrf: b.csrf, digest: 'on' });
    expect((await deps.store.accounts.get(ownerA))!.digestOff).toBe(false);
    // The operator has no digest of their own: said, and refused.
    const op = await signIn(null);
    expect((await get(op, '/console/groups')).body).toContain('The operator session has no digest of its own');
    expect((await post(op, '/console/digest', { _csrf: op.csrf, digest: 'off' })).statusCode).toBe(400);
  });
});

/** A Telegram chat that answers the door's join link (a hand-written fake: RecordingGateway plus doorLink). */
class DoorGateway extends RecordingGateway {
  links = 0;
  async doorLink(chatId: string): Promise<string> {
    this.links++;
    return `https://t.me/+door${chatId}x${this.links}`;
  }
}

describe.each(DIALECTS)('console Groups page, pay at the door (%s)', (dialect) => {
  const it = serviceTest(dialect, { PUBLIC_URL: 'https://gk.test' });

  it('a door group offers a fresh join link (as /joinmode door answers); other groups and a platform not running: one line', async ({ t }) => {
    const deps = t.service.deps;
    const tg = new DoorGateway('telegram');
    deps.gateways.set('telegram', tg);
    const g = await addGroup(deps, { platform: 'telegram', chatId: '-1001', title: 'TG club', actor: admin });
    const app = t.service.app;
    const link = await issueLoginLink(deps, admin, null);
    const login = await app.inject({ method: 'POST', url: '/console/login', payload: { token: new URL(link.url).searchParams.get('token')! } });
    const cookie = [login.headers['set-cookie']]
      .flat()
      .map(String)
      .find((c) => c.startsWith('gk_console='))!
      .split(';')[0]!;
    const page = async () => (await app.inject({ method: 'GET', url: `/console/groups/${g.id}`, headers: { cookie } })).body;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page())![1]!;
    const post = (url: string, form: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url,
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: csrf, ...form }).toString(),
      });

    expect(await page()).not.toContain('id="door"');
    const notDoor = await post(`/console/groups/${g.id}/door-link`, {});
    expect(notDoor.statusCode).toBe(400);
    expect(errorOf(notDoor)).toBe('This group is not in “Pay at the door” mode: choose it under Joining and save first.');
    expect(tg.links).toBe(0);

    const browser = { cookie, csrf };
    expect((await post(`/console/groups/${g.id}/settings`, formOf(g, browser, { joinMode: 'door' }))).statusCode).toBe(303);
    expect(await page()).toContain('id="door"');
    const res = await post(`/console/groups/${g.id}/door-link`, {});
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('id="door-link" href="https://t.me/+door-1001x1"');
    expect(tg.links).toBe(1);

    deps.gateways.delete('telegram');
    const down = await post(`/console/groups/${g.id}/door-link`, {});
    expect(down.statusCode).toBe(400);
    expect(errorOf(down)).toBe('Telegram is not running on this service, so the bot cannot make a door link now.');
  });
});

// The form falls back to the table's English for a setting without console texts; this says when one lacks them.
describe('console texts for every group setting', () => {
  const keys: Record<string, unknown> = consoleEn;
  it.each(SETTINGS.map((s) => [s.key, s] as const))('%s: a label, a help line and each choice, in en and zh-CN', (key, s) => {
    for (const k of [`setting_${key}`, `setting_${key}_help`, ...(s.choices ?? []).map((c) => `setting_${key}_${c}`)])
      expect(keys[`console.${k}`], `console.${k} in console-en.ts and console-zh-CN.ts`).toBeTypeOf('string');
  });
});
