// The console's review rules (issue 15 part 5, issue 17): a group's join questions and the blacklist, through the
// same use cases as /questions and /blacklist; a removal asks first. Bad input (an empty or over-long question,
// another owner's group, question or entry) is one clear line and changes nothing. On SQLite and PostgreSQL.
import { describe, expect } from 'vitest';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import { addBlacklist, addQuestion } from '../../src/app/review.ts';
import { consoleScene, type ConsoleScene } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const admin = { kind: 'admin', via: 'cli' } as const;

describe.each(DIALECTS)('console review rules (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: ConsoleScene }>({ scene: async ({ t }, use) => use(await consoleScene(t)) });

  it('adds and removes a join question and a blacklist entry; each removal asks first', async ({ t, scene: { one, ownerA, signIn, get, post } }) => {
    const deps = t.service.deps;
    const a = await signIn(ownerA);
    expect((await get(a, '/console/review')).body).toContain('href="/console/review/rules"');
    const empty = await get(a, '/console/review/rules');
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toContain('No questions: people pay without answering any.');
    expect(empty.body).toContain('Nobody is on the blacklist.');

    const added = await post(a, `/console/review/rules/${one.groupId}/questions`, { _csrf: a.csrf, text: '  Where did you hear about us?  ' });
    expect(added.statusCode).toBe(303);
    expect(added.headers.location).toBe(`/console/review/rules?group=${one.groupId}&done=rules_question_add`);
    const [q] = await deps.store.review.listQuestions(one.groupId);
    expect(q!.text).toBe('Where did you hear about us?');
    const page = await get(a, added.headers.location as string);
    expect(page.body).toContain('Question added.');
    expect(page.body).toContain(`data-question="${q!.id}"`);

    const askQ = await post(a, `/console/review/rules/${one.groupId}/questions/${q!.id}/remove`, { _csrf: a.csrf });
    expect(askQ.body).toContain('Remove the question “Where did you hear about us?”?');
    expect(await deps.store.review.listQuestions(one.groupId)).toHaveLength(1);
    expect((await post(a, `/console/review/rules/${one.groupId}/questions/${q!.id}/remove`, { _csrf: a.csrf, confirm: 'yes' })).statusCode).toBe(303);
    expect(await deps.store.review.listQuestions(one.groupId)).toEqual([]);

    const bl = await post(a, `/console/review/rules/${one.groupId}/blacklist`, { _csrf: a.csrf, kind: 'user', value: 'spammer-7', reason: 'spam' });
    expect(bl.statusCode).toBe(303);
    const [e] = await deps.store.review.listBlacklist({ groupIds: [one.groupId], global: false });
    expect(e).toMatchObject({ groupId: one.groupId, kind: 'user', platform: 'playground', value: 'spammer-7', reason: 'spam', addedBy: `account:${ownerA}` });
    expect((await get(a, `/console/review/rules?group=${one.groupId}`)).body).toContain(`data-entry="${e!.id}"`);
    const askE = await post(a, `/console/review/blacklist/${e!.id}/remove`, { _csrf: a.csrf, group: String(one.groupId) });
    expect(askE.body).toContain('Remove User id “spammer-7” from the blacklist?');
    expect(await deps.store.review.getBlacklist(e!.id)).not.toBeNull();
    const gone = await post(a, `/console/review/blacklist/${e!.id}/remove`, { _csrf: a.csrf, group: String(one.groupId), confirm: 'yes' });
    expect(gone.headers.location).toBe(`/console/review/rules?group=${one.groupId}&done=rules_blacklist_remove`);
    expect(await deps.store.review.getBlacklist(e!.id)).toBeNull();
    const actions = (await deps.store.audit.page({ limit: 20 })).map((x) => x.action);
    expect(actions).toEqual(expect.arrayContaining(['group.question_add', 'group.question_remove', 'review.blacklist_add', 'review.blacklist_remove']));
  });

  it('bad input: an empty or over-long question, a bad name pattern, another owner’s group, question or entry: one clear line, nothing changed', async ({
    t,
    scene: { one, two, ownerA, signIn, get, post },
  }) => {
    const deps = t.service.deps;
    const a = await signIn(ownerA);
    const theirQ = await addQuestion(deps, admin, two.groupId, 'Their question');
    const theirE = await addBlacklist(deps, admin, { groupId: two.groupId, kind: 'account', value: '7' });
    for (const [url, form, status, line] of [
      [`/console/review/rules/${one.groupId}/questions`, { text: '   ' }, 400, 'a question must be 1–300 characters'],
      [`/console/review/rules/${one.groupId}/questions`, { text: 'x'.repeat(301) }, 400, 'a question must be 1–300 characters'],
      [`/console/review/rules/${one.groupId}/blacklist`, { kind: 'name', value: '(' }, 400, 'is not a valid pattern'],
      [`/console/review/rules/${one.groupId}/blacklist`, { kind: 'user', value: '' }, 400, 'a blacklist entry needs a value'],
      [`/console/review/rules/${two.groupId}/questions`, { text: 'Mine now?' }, 403, `group ${two.groupId} is not one of your groups`],
      [`/console/review/rules/${two.groupId}/blacklist`, { kind: 'account', value: '8' }, 403, `group ${two.groupId} is not one of your groups`],
      [`/console/review/rules/${two.groupId}/questions/${theirQ.id}/remove`, { confirm: 'yes' }, 403, `group ${two.groupId} is not one of your groups`],
      [
        `/console/review/rules/${one.groupId}/questions/${theirQ.id}/remove`,
        { confirm: 'yes' },
        404,
        `group ${one.groupId} has no question with id ${theirQ.id}`,
      ],
      [`/console/review/blacklist/${theirE.id}/remove`, { group: String(one.groupId), confirm: 'yes' }, 404, `no blacklist entry ${theirE.id} in your groups`],
    ] as const) {
      const res = await post(a, url, { _csrf: a.csrf, ...form });
      expect(res.statusCode, `${url} ${JSON.stringify(form).slice(0, 60)}`).toBe(status);
      expect(res.body, url).toContain(line);
    }
    const foreign = await get(a, `/console/review/rules?group=${two.groupId}`);
    expect(foreign.statusCode).toBe(403);
    expect(foreign.body).not.toContain('Their question');
    expect(await deps.store.review.listQuestions(one.groupId)).toEqual([]);
    expect((await deps.store.review.listQuestions(two.groupId)).map((q) => q.text)).toEqual(['Their question']);
    expect(await deps.store.review.listBlacklist({ groupIds: [one.groupId, two.groupId], global: true })).toEqual([theirE]);
  });

  it('an owner whose claim covers every group may add an every-group entry, as the use case allows; an owner of one group may not', async ({
    t,
    scene: { ownerA, signIn, get },
  }) => {
    const deps = t.service.deps;
    const all = await redeemClaimCode(deps, { platform: 'telegram', userId: '9001', code: (await createClaimCode(deps, admin)).code });
    expect((await get(await signIn(all.id), '/console/review/rules')).body).toContain('name="scope"');
    expect((await get(await signIn(ownerA), '/console/review/rules')).body).not.toContain('name="scope"');
  });
});
