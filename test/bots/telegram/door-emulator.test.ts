// The emulator's guard-bot methods stay strict (Bot API 10.1): the first answer within 10 s, one final answer
// per query, an answer after the Mini App's time refused like Telegram refuses a stale query, HTTPS Mini Apps only.
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { TelegramEmulator } from '../../fakes/telegram-emulator.ts';

const TOKEN = '111:door-emulator-test';

describe('emulator: join-request queries', () => {
  let emu: TelegramEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  async function setUp() {
    const clock = new FakeClock(Date.UTC(2026, 5, 12));
    emu = await TelegramEmulator.start({ token: TOKEN, clock, limits: false });
    emu.guardBot = true;
    const owner = emu.addUser('Olga');
    const chatId = emu.createGroup({ title: 'Club', creator: owner, admins: [emu.bot] });
    const call = async (method: string, params: Record<string, unknown>) => {
      const r = await fetch(`${emu!.url}/bot${TOKEN}/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(params),
      });
      return (await r.json()) as { ok: boolean; description?: string; result?: unknown };
    };
    const link = (await call('createChatInviteLink', { chat_id: chatId, creates_join_request: true })).result as { invite_link: string };
    const ask = () => {
      const u = emu!.addUser('Stranger');
      expect(emu!.joinViaLink(u, link.invite_link)).toBe('requested');
      const q = (emu!.updates.at(-1) as unknown as { chat_join_request: { query_id: string } }).chat_join_request.query_id;
      return { u, q };
    };
    return { clock, chatId, call, ask };
  }

  it('refuses a first answer after 10 s, a second answer, a late answer after the Mini App, and a non-HTTPS Mini App', async () => {
    const { clock, chatId, call, ask } = await setUp();
    const late = ask();
    clock.set(clock.now() + 10_001);
    expect(await call('sendChatJoinRequestWebApp', { chat_join_request_query_id: late.q, web_app_url: 'https://gk.test/door/1' })).toMatchObject({
      ok: false,
      description: expect.stringMatching(/query is too old/),
    });
    const a = ask();
    expect((await call('sendChatJoinRequestWebApp', { chat_join_request_query_id: a.q, web_app_url: 'http://gk.test/door/1' })).description).toMatch(
      /WEBAPP_URL_INVALID/,
    );
    expect((await call('sendChatJoinRequestWebApp', { chat_join_request_query_id: a.q, web_app_url: 'https://gk.test/door/1' })).ok).toBe(true);
    expect((await call('answerChatJoinRequestQuery', { chat_join_request_query_id: a.q, result: 'maybe' })).ok).toBe(false);
    expect((await call('answerChatJoinRequestQuery', { chat_join_request_query_id: a.q, result: 'approve' })).ok).toBe(true);
    expect(emu!.isMember(chatId, a.u.id)).toBe(true);
    expect((await call('answerChatJoinRequestQuery', { chat_join_request_query_id: a.q, result: 'decline' })).description).toMatch(/query is too old/);
    const b = ask();
    expect((await call('sendChatJoinRequestWebApp', { chat_join_request_query_id: b.q, web_app_url: 'https://gk.test/door/1' })).ok).toBe(true);
    clock.set(clock.now() + emu!.joinQueryWebAppMs + 1);
    expect((await call('answerChatJoinRequestQuery', { chat_join_request_query_id: b.q, result: 'decline' })).description).toMatch(/query is too old/);
  });
});
