// The join review's CLI (issue 17): blacklist add|remove|list (an invalid pattern refused in one line),
// group questions (a sixth refused), member list --status awaiting_review, member approve|reject refusals.
// The decisions themselves are covered through the use cases in test/app/review.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';

describe('gatekeeper join review CLI (sqlite)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gk-cli-review-'));
    env = { DATA_DIR: dir };
    expect((await cli(['migrate'], env)).err).toBe('');
    expect((await cli(['group', 'add', '--platform', 'playground', '--chat', 'room-a', '--title', 'Readers'], env)).err).toBe('');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const ok = async (args: string[]) => {
    const r = await cli(args, env);
    expect(r.err, args.join(' ')).toBe('');
    expect(r.code).toBe(0);
    return r.out;
  };
  const fails = async (args: string[], line: RegExp) => {
    const r = await cli(args, env);
    expect(r.code, args.join(' ')).not.toBe(0);
    expect(r.err).toMatch(line);
    expect(r.err).not.toMatch(/[\r\n]/);
    expect(r.out).toBe('');
  };

  it('blacklist add, list and remove; an invalid pattern or kind is refused and adds nothing', async () => {
    await fails(['blacklist', 'add', '--kind', 'name', '--value', '(unclosed', '--group', '1'], /not a valid pattern/);
    await fails(['blacklist', 'add', '--kind', 'face', '--value', 'x'], /unknown blacklist kind/);
    await fails(['blacklist', 'add', '--kind', 'user', '--value', '42'], /needs its platform/);
    expect(await ok(['blacklist', 'list'])).toBe('no blacklist entries');
    expect(await ok(['blacklist', 'add', '--kind', 'name', '--value', '^spam', '--group', '1', '--reason', 'spam bots'])).toMatch(
      /entry 1 added: name \^spam \(group 1\)/,
    );
    expect(await ok(['blacklist', 'add', '--kind', 'user', '--platform', 'telegram', '--value', '42'])).toMatch(/every group/);
    const list = JSON.parse(await ok(['blacklist', 'list', '--json'])) as Array<{ id: number; kind: string }>;
    expect(list.map((e) => e.kind)).toEqual(['name', 'user']);
    expect(await ok(['blacklist', 'remove', '1'])).toMatch(/entry 1 removed/);
    await fails(['blacklist', 'remove', '1'], /no blacklist entry 1/);
  });

  it('group questions: add up to 5, a sixth refused, list numbered, remove by number', async () => {
    expect(await ok(['group', 'questions', '1'])).toBe('group 1 asks no questions');
    for (let i = 1; i <= 5; i++) await ok(['group', 'questions', '1', 'add', `Question ${i}?`]);
    await fails(['group', 'questions', '1', 'add', 'Sixth?'], /already has 5 questions/);
    expect((await ok(['group', 'questions', '1', 'list'])).split('\n')).toHaveLength(5);
    expect(await ok(['group', 'questions', '1', 'remove', '2'])).toMatch(/question 2 removed from group 1: Question 2\?/);
    expect((await ok(['group', 'questions', '1'])).split('\n')[1]).toBe('2. Question 3?');
    await fails(['group', 'questions', '1', 'remove', '9'], /no question 9/);
    await fails(['group', 'questions', '1', 'rename'], /unknown action/);
    await fails(['group', 'questions', '7', 'list'], /no group with id 7/);
  });

  it('member list --status awaiting_review is accepted; approve and reject need such a membership (and reject a reason)', async () => {
    expect(await ok(['member', 'list', '--status', 'awaiting_review'])).toBe('no members');
    await fails(['member', 'list', '--status', 'waiting'], /awaiting_review/);
    await fails(['member', 'approve', '5'], /no membership with id 5/);
    await fails(['member', 'reject', '5'], /--reason/);
  });
});
