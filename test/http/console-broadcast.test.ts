// The console's Broadcast page (issue 15 part 6) over app.inject, on SQLite and PostgreSQL: the group picker
// shows the session's groups with their recipient counts, the preview (the member's message in each language
// they read) changes nothing, the confirmed send queues one notify job per member with access carrying the
// broadcast's id, and progress (sent / waiting / failed) follows the jobs as the worker delivers, through the
// page and the JSON endpoint console.js polls. Bad input: an empty and a 5,000-character text, another owner's
// group, a POST without the CSRF token: each is refused with one line and queues nothing.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { MAX_BROADCAST_CHARS } from '../../src/app/broadcast.ts';
import { newPressKey } from '../../src/app/console-auth.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { ProviderRejectedError } from '../../src/domain/errors.ts';
import { consoleClient } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import type { TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : '')).join('\n');

interface Browser {
  cookie: string;
  csrf: string;
}

/** What the tests read of an inject() response. */
interface Res {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
  json: () => unknown;
}

interface Scene {
  /** Owner A's group: ann, amy and zoe (zoe reads Chinese) have access. */
  groupA: number;
  /** Owner B's group: ben has access. */
  groupB: number;
  ownerA: number;
  ownerB: number;
  say: (userId: string, text: string) => Promise<string>;
  signIn: (accountId: number | null) => Promise<Browser>;
  get: (b: Browser | null, url: string) => Promise<Res>;
  post: (b: Browser | null, url: string, form: Record<string, string>) => Promise<Res>;
  /** What the database holds of broadcasts: their rows and their jobs. */
  written: () => Promise<{ broadcasts: number; jobs: number }>;
}

async function member(t: TestService, userId: string, chatId: string) {
  const deps = t.service.deps;
  const s = await seedOrderDirect(deps, { userId, chatId, price: '9.90', currency: 'CNY' });
  await payDevDirect(deps, s.orderId);
  await t.service.worker.drain();
  return s.groupId;
}

describe.each(DIALECTS)('console: broadcast (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: Scene }>({
    scene: async ({ t }, use) => {
      const deps: AppDeps = t.service.deps;
      const bot = createConversation(deps);
      const say = async (userId: string, text: string) => textOf(await bot.handle({ platform: 'playground', userId, text }));
      const groupA = await member(t, 'ann', 'room-a');
      await member(t, 'amy', 'room-a');
      await member(t, 'zoe', 'room-a');
      await deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'zoe', locale: 'zh-CN' }, t.clock.now());
      const groupB = await member(t, 'ben', 'room-b');
      expect(await say('owner-a', (await createClaimCode(deps, admin, [groupA])).code)).toMatch(/You are now an owner/);
      expect(await say('owner-b', (await createClaimCode(deps, admin, [groupB])).code)).toMatch(/You are now an owner/);
      const ownerA = (await deps.store.accounts.find('playground', 'owner-a'))!.id;
      const ownerB = (await deps.store.accounts.find('playground', 'owner-b'))!.id;
      const app = t.service.app;
      const { get, post, signIn } = consoleClient(app, deps);
      const db = t.db.opened.db;
      const written = async () => ({
        broadcasts: (await db.selectFrom('broadcasts').selectAll().execute()).length,
        jobs: (await db.selectFrom('jobs').selectAll().where('lane', '=', 'broadcast').execute()).length,
      });
      await use({ groupA, groupB, ownerA, ownerB, say, signIn, get, post, written });
    },
  });

  it('the page offers the session’s groups with their recipients; the preview shows the message per language and writes nothing', async ({
    scene: { groupA, groupB, ownerA, signIn, get, post, written },
  }) => {
    const a = await signIn(ownerA);
    const pageA = await get(a, '/console/broadcast');
    expect(pageA.body).toContain('id="broadcast-form"');
    expect(pageA.body).toContain(`<option value="${groupA}"`);
    expect(pageA.body).toContain('Group room-a · 3 recipients');
    expect(pageA.body).not.toContain(`<option value="${groupB}"`);
    expect(pageA.body).not.toContain('room-b');
    expect(pageA.body).toContain('No broadcasts yet.');

    // A browser posts the textarea's line break as CR LF: members get one line break.
    const preview = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text: '  Meeting tonight at 8\r\nbring a friend  ' });
    expect(preview.statusCode).toBe(200);
    expect(preview.body).toContain('id="confirm-question"');
    expect(preview.body).toContain('Send this message to 3 members of “Group room-a”?');
    // Two members read English (the default), one Chinese: one preview each, rendered by the catalogue.
    expect(preview.body).toContain('English · 2 members');
    expect(preview.body).toContain('中文 · 1 member');
    expect(preview.body).toContain('📣 Group room-a: Meeting tonight at 8\nbring a friend</div>');
    expect(preview.body).toContain('📣 Group room-a：Meeting tonight at 8\nbring a friend</div>');
    // The confirmation posts the trimmed text again.
    expect(preview.body).toContain('name="text" value="Meeting tonight at 8\nbring a friend"');
    expect(await written()).toEqual({ broadcasts: 0, jobs: 0 });
  });

  it('confirmed: one job per member with access carries the broadcast’s id; progress follows the queue (sent, waiting, failed)', async ({
    t,
    scene: { groupA, ownerA, signIn, get, post, written },
  }) => {
    const deps = t.service.deps;
    // ben's group is not this one; a lapsed member of this group (ann) gets nothing either.
    const lapsed = (await deps.store.memberships.list({ groupId: groupA })).find((m) => m.status === 'active')!;
    await deps.store.memberships.update(lapsed.id, { status: 'expired', expiresAt: lapsed.expiresAt, graceUntil: null }, t.clock.now());
    const a = await signIn(ownerA);
    const preview = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text: 'Hello readers' });
    expect(preview.body).toContain('Send this message to 2 members of “Group room-a”?');
    // The confirmation's key, pressed twice (a double click): one broadcast, the second press is told it was sent.
    const press = /name="_press" value="([A-Za-z0-9_-]{22})"/.exec(preview.body)![1]!;
    const form = { _csrf: a.csrf, group: String(groupA), text: 'Hello readers', confirm: 'yes', _press: press };
    const sent = await post(a, '/console/broadcast', form);
    expect(sent.statusCode).toBe(303);
    const again = await post(a, '/console/broadcast', form);
    expect(again.headers.location).toBe('/console/broadcast?done=again');
    expect((await written()).broadcasts).toBe(1);
    const id = Number(/^\/console\/broadcasts\/(\d+)\?done=broadcast$/.exec(String(sent.headers.location))![1]);
    const row = await t.db.opened.db.selectFrom('broadcasts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect({ ...row, id: Number(row.id), group_id: Number(row.group_id), created_at: Number(row.created_at) }).toEqual({
      id,
      group_id: groupA,
      actor: `account:${ownerA}`,
      text_length: 13,
      recipients: 2,
      created_at: t.clock.now(),
    });
    const jobs = await t.db.opened.db.selectFrom('jobs').selectAll().where('broadcast_id', '=', id).execute();
    expect(jobs.map((j) => [j.kind, j.lane, j.status])).toEqual([
      ['notify', 'broadcast', 'queued'],
      ['notify', 'broadcast', 'queued'],
    ]);
    expect(jobs.map((j) => JSON.parse(j.payload).broadcastId)).toEqual([id, id]);
    expect(jobs.map((j) => JSON.parse(j.payload).accountId)).not.toContain(lapsed.accountId);
    expect(await written()).toEqual({ broadcasts: 1, jobs: 2 });

    const progress = async () => (await get(a, `/console/broadcasts/${id}/progress`)).json();
    expect(await progress()).toEqual({ id, recipients: 2, sent: 0, waiting: 2, failed: 0, finished: false });
    const detail = await get(a, `/console/broadcasts/${id}?done=broadcast`);
    expect(detail.statusCode).toBe(200);
    expect(detail.body).toContain('id="done"');
    expect(detail.body).toContain(`data-progress-url="/console/broadcasts/${id}/progress"`);
    expect(detail.body).toContain('data-finished="false"');
    expect(detail.body).toContain('13 characters');

    // amy blocked the bot: her message is refused for good (a dead letter); the other goes out.
    t.gateway.failWhen(
      (c) => c.op === 'text' && c.userId === 'amy',
      () => new ProviderRejectedError('playground', 'the person blocked the bot'),
    );
    await t.service.worker.drain();
    expect(await progress()).toEqual({ id, recipients: 2, sent: 1, waiting: 0, failed: 1, finished: true });
    const texts = t.gateway.of('text').filter((c) => c.lane === 'broadcast');
    expect(texts).toHaveLength(1);
    // zoe's, in the language she reads (as the preview showed it).
    expect(texts[0]).toMatchObject({ userId: 'zoe', text: '📣 Group room-a：Hello readers' });
    const after = await get(a, `/console/broadcasts/${id}`);
    expect(after.body).toContain('data-finished="true"');
    expect(after.body).toContain('data-failed="true"');
    expect(after.body).toMatch(/data-k="sent">1</);
    expect(after.body).toMatch(/data-k="failed">1</);
    // The list shows it with the same figures.
    const list = await get(a, '/console/broadcast');
    expect(list.body).toContain(`data-broadcast="${id}"`);
    expect(list.body).toContain('2 recipients');
  });

  it('the chat’s /broadcast takes the same path: a recorded broadcast with its progress, the same reply as before', async ({
    t,
    scene: { groupA, ownerA, say, signIn, get },
  }) => {
    expect(await say('owner-a', `/broadcast ${groupA} Free drinks`)).toBe('Broadcast queued for 3 members.');
    const a = await signIn(ownerA);
    const list = await get(a, '/console/broadcast');
    const id = Number(/data-broadcast="(\d+)"/.exec(list.body)![1]);
    await t.service.worker.drain();
    expect((await get(a, `/console/broadcasts/${id}/progress`)).json()).toMatchObject({ recipients: 3, sent: 3, waiting: 0, failed: 0, finished: true });
    expect((await get(a, `/console/broadcasts/${id}`)).body).toContain(`<dd>Owner #${ownerA}</dd>`);
  });

  it('bad input: an empty text and a 5,000-character text are refused with one line, before and after confirming; nothing is queued', async ({
    scene: { groupA, ownerA, signIn, post, written },
  }) => {
    const a = await signIn(ownerA);
    for (const confirm of [{}, { confirm: 'yes', _press: newPressKey() }] as Array<Record<string, string>>) {
      for (const text of ['', '   \n  ']) {
        const res = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text, ...confirm });
        expect(res.statusCode).toBe(400);
        expect(res.body).toContain('<div class="notice error" id="error">the broadcast text is empty</div>');
      }
      const long = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text: 'x'.repeat(5000), ...confirm });
      expect(long.statusCode).toBe(400);
      expect(long.body).toContain(`<div class="notice error" id="error">a broadcast is at most ${MAX_BROADCAST_CHARS} characters (this one has 5000)</div>`);
      const over = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text: 'x'.repeat(MAX_BROADCAST_CHARS + 1), ...confirm });
      expect(over.statusCode).toBe(400);
      expect(await written()).toEqual({ broadcasts: 0, jobs: 0 });
    }
    // A group that is not a number: one line too.
    const bad = await post(a, '/console/broadcast', { _csrf: a.csrf, group: 'abc', text: 'hi' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('group must be a number');
    expect(await written()).toEqual({ broadcasts: 0, jobs: 0 });
  });

  it('the limit is 2,000 characters of any script: 2,000 Chinese characters (18 KB as a form) preview and send', async ({
    scene: { groupA, ownerA, signIn, post, written },
  }) => {
    const a = await signIn(ownerA);
    const text = '读'.repeat(MAX_BROADCAST_CHARS);
    const preview = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text });
    expect(preview.statusCode).toBe(200);
    expect(preview.body).toContain('id="confirm-question"');
    const sent = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupA), text, confirm: 'yes', _press: newPressKey() });
    expect(sent.statusCode).toBe(303);
    expect(await written()).toEqual({ broadcasts: 1, jobs: 3 });
  });

  it('bad input: another owner’s group is refused (403) and its broadcasts are "not found" (404); a POST without the CSRF token is refused; nothing is queued', async ({
    t,
    scene: { groupA, groupB, ownerA, ownerB, signIn, get, post, written },
  }) => {
    const a = await signIn(ownerA);
    for (const confirm of [{}, { confirm: 'yes', _press: newPressKey() }] as Array<Record<string, string>>) {
      const res = await post(a, '/console/broadcast', { _csrf: a.csrf, group: String(groupB), text: 'Free drinks', ...confirm });
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain(`group ${groupB} is not one of your groups`);
    }
    expect((await post(a, '/console/broadcast', { _csrf: a.csrf, group: '999999', text: 'hi', confirm: 'yes', _press: newPressKey() })).statusCode).toBe(404);
    expect((await post(a, '/console/broadcast', { group: String(groupA), text: 'Hello', confirm: 'yes' })).statusCode).toBe(403);
    expect((await post(null, '/console/broadcast', { group: String(groupA), text: 'Hello', confirm: 'yes' })).statusCode).toBe(401);
    expect(await written()).toEqual({ broadcasts: 0, jobs: 0 });

    // Owner B's broadcast: owner A cannot see it, page or progress; B and the operator can.
    const b = await signIn(ownerB);
    const sent = await post(b, '/console/broadcast', { _csrf: b.csrf, group: String(groupB), text: 'Members only', confirm: 'yes', _press: newPressKey() });
    const id = Number(/(\d+)\?done/.exec(String(sent.headers.location))![1]);
    expect((await get(a, `/console/broadcasts/${id}`)).statusCode).toBe(404);
    const foreign = await get(a, `/console/broadcasts/${id}/progress`);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toEqual({ error: 'not_found', message: `no broadcast with id ${id}` });
    expect((await get(a, '/console/broadcast')).body).not.toContain(`data-broadcast="${id}"`);
    expect((await get(b, `/console/broadcasts/${id}/progress`)).json()).toMatchObject({ recipients: 1, waiting: 1 });
    const op = await signIn(null);
    expect((await get(op, '/console/broadcast')).body).toContain(`data-broadcast="${id}"`);
    expect((await get(op, `/console/broadcasts/${id}/progress`)).statusCode).toBe(200);
    // Signed out: the endpoint console.js polls answers JSON, not the sign-in page.
    const out = await get(null, `/console/broadcasts/${id}/progress`);
    expect(out.statusCode).toBe(401);
    expect(out.json()).toMatchObject({ error: 'signed_out' });
    expect((await get(a, '/console/broadcasts/abc/progress')).statusCode).toBe(400);
    void t;
  });
});
