// Pay at the door (issue 18 part 5) against the Bot API emulator in guard-bot mode: a stranger asks to join
// through the group's shared link, the bot opens the Mini App checkout within the query's 10 s, the stranger
// pays there and is approved through the query; a non-payer is declined when the query lapses (or, when
// Telegram let it go first, that is handled); a member is approved at once; launch data that is not this
// bot's, or too old, gets a clear page and no order; without a query id the private-chat flow runs.
import { afterEach, describe, expect, it } from 'vitest';
import type { Group } from '../../../src/app/model.ts';
import { DOOR_QUERY_LIFETIME_MS } from '../../../src/app/door.ts';
import { HOUR_MS, MINUTE_MS } from '../../../src/domain/time.ts';
import type { User } from '../../fakes/telegram-emulator.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { type Harness, startTelegram } from './harness.ts';

describe.each(DIALECTS)('pay at the door (%s)', (dialect) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** Olga's group on sale, set to `door`, the emulator a guard-bot Bot API; returns the shared link. */
  async function door(): Promise<{ chatId: number; group: Group; link: string }> {
    // Telegram opens Mini Apps over HTTPS only (the emulator refuses anything else).
    h = await startTelegram(dialect, { start: true, env: { PUBLIC_URL: 'https://gk.test' } });
    const { owner, chatId, group } = await h.groupOnSale();
    h.emu.guardBot = true;
    // The owner sets the door in chat and gets the shared link to post anywhere.
    const before = h.emu.messagesTo(owner.id).length;
    h.emu.sendText(owner, `/joinmode ${group.id} door`);
    const linkIn = () =>
      h!.emu
        .messagesTo(owner.id)
        .slice(before)
        .map((m) => /https:\/\/t\.me\/\+\S+/.exec(m.text ?? '')?.[0])
        .find(Boolean);
    await h.until(() => linkIn() !== undefined, 'the door link');
    expect((await h.t.service.deps.store.groups.get(group.id))!.joinMode).toBe('door');
    return { chatId, group: { ...group, joinMode: 'door' }, link: linkIn()! };
  }

  /** The stranger asks to join; returns the query id once the bot opened the Mini App for it. */
  async function ask(user: User, link: string): Promise<string> {
    const before = h!.emu.webApps.length;
    expect(h!.emu.joinViaLink(user, link)).toBe('requested');
    await h!.until(() => h!.emu.webApps.length > before, 'the Mini App opened');
    const app = h!.emu.webApps[before]!;
    expect(app.userId).toBe(user.id);
    return app.queryId;
  }

  const form = (fields: Record<string, string>) => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });

  it('a stranger pays at the door with the dev rail and is approved through the query', async () => {
    const { chatId, group, link } = await door();
    const ann = h!.emu.addUser('Ann', { language_code: 'en' });
    const queryId = await ask(ann, link);
    const q = h!.emu.joinQuery(queryId)!;
    expect(q.webAppAt! - q.at).toBeLessThanOrEqual(10_000);
    const { url, initData } = h!.emu.openWebApp(queryId);
    expect(url.startsWith(`${h!.t.service.deps.settings.publicUrl}/door/${group.id}#tgWebAppData=`)).toBe(true);
    const app = h!.t.service.app;
    // The page posts the launch data back; the answer lists the group's plans on every rail, Stars included.
    const page = await app.inject({ method: 'POST', url: `/door/${group.id}`, ...form({ initData }) });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('data-provider="dev"');
    expect(page.body).toContain('data-provider="stars"');
    const planId = /data-plan="(\d+)"/.exec(page.body)![1]!;
    const chosen = await app.inject({ method: 'POST', url: `/door/${group.id}/checkout`, ...form({ initData, planId, provider: 'dev' }) });
    expect(chosen.statusCode).toBe(303);
    const orderId = String(chosen.headers.location).split('/').pop()!;
    const order = (await h!.t.service.deps.store.orders.get(orderId))!;
    const account = (await h!.t.service.deps.store.accounts.get(order.accountId))!;
    expect(account).toMatchObject({ platform: 'telegram', platformUserId: String(ann.id) });
    const paid = await app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(paid.json()).toMatchObject({ status: 'paid' });
    await h!.until(() => h!.emu.isMember(chatId, ann.id), 'Ann let in');
    expect(h!.emu.joinQuery(queryId)!.answer).toBe('approve');
    // The lapse comes later and leaves her be.
    await h!.run(DOOR_QUERY_LIFETIME_MS + MINUTE_MS, 30_000);
    expect(h!.emu.isMember(chatId, ann.id)).toBe(true);
    expect(h!.emu.calls.filter((c) => c.method === 'answerChatJoinRequestQuery')).toHaveLength(1);
  });

  it('Stars at the door: the invoice opens inside the Mini App (Telegram.WebApp.openInvoice), paying it approves the query', async () => {
    const { chatId, group, link } = await door();
    const cat = h!.emu.addUser('Cat', { language_code: 'en' });
    const queryId = await ask(cat, link);
    const { initData } = h!.emu.openWebApp(queryId);
    const app = h!.t.service.app;
    const page = await app.inject({ method: 'POST', url: `/door/${group.id}`, ...form({ initData }) });
    const planId = /data-plan="(\d+)" data-provider="stars"/.exec(page.body)![1]!;
    const chosen = await app.inject({ method: 'POST', url: `/door/${group.id}/checkout`, ...form({ initData, planId, provider: 'stars' }) });
    expect(chosen.statusCode).toBe(200);
    const invoiceLink = /data-testid="stars-invoice" href="([^"]+)"/.exec(chosen.body)![1]!;
    expect(invoiceLink.startsWith('https://t.me/$')).toBe(true);
    expect(chosen.body).toContain('Telegram.WebApp');
    expect(chosen.body).toContain(`openInvoice(link`);
    expect(chosen.body).toContain(JSON.stringify(invoiceLink));
    let paid: string | null = null;
    void h!.emu.payInvoice(cat, { link: invoiceLink }).then((r) => (paid = r.outcome));
    await h!.until(() => paid !== null, 'paid');
    expect(paid).toBe('paid');
    await h!.until(() => h!.emu.isMember(chatId, cat.id), 'Cat let in');
    expect(h!.emu.joinQuery(queryId)!.answer).toBe('approve');
  });

  it('a non-payer is declined when the query lapses, and may ask again', async () => {
    const { chatId, link } = await door();
    const ben = h!.emu.addUser('Ben', { language_code: 'en' });
    const queryId = await ask(ben, link);
    await h!.run(DOOR_QUERY_LIFETIME_MS + MINUTE_MS, 30_000);
    await h!.until(() => h!.emu.joinQuery(queryId)!.answer === 'decline', 'Ben declined');
    expect(h!.emu.isMember(chatId, ben.id)).toBe(false);
    expect(h!.emu.pendingRequests(chatId)).not.toContain(ben.id);
    const again = await ask(ben, link);
    expect(again).not.toBe(queryId);
  });

  it('a query Telegram let go before our decline is handled, not crashed', async () => {
    const { chatId, group, link } = await door();
    h!.emu.joinQueryWebAppMs = 2 * MINUTE_MS;
    const cy = h!.emu.addUser('Cy', { language_code: 'en' });
    await ask(cy, link);
    await h!.run(DOOR_QUERY_LIFETIME_MS + MINUTE_MS, 30_000);
    const lapseDone = async () => (await h!.t.service.deps.store.jobs.list({ kind: 'door_lapse' }))[0]?.status === 'done';
    await h!.until(lapseDone, 'the lapse handled');
    const audit = await h!.t.service.deps.store.audit.list({ subjectType: 'group', subjectId: String(group.id) });
    expect(audit.some((a) => a.action === 'group.join_declined' && /lapsed at the door/.test(a.reason ?? ''))).toBe(true);
    expect(h!.emu.isMember(chatId, cy.id)).toBe(false);
  });

  it('a member with an active membership is approved at once, without a Mini App', async () => {
    const { chatId, link } = await door();
    const dee = h!.emu.addUser('Dee', { language_code: 'en' });
    const plan = (await h!.t.service.deps.store.plans.list({}))[0]!;
    await h!.payByApi(dee.id, plan.id);
    await h!.run(MINUTE_MS, 5_000);
    h!.emu.leave(dee, chatId);
    const apps = h!.emu.webApps.length;
    expect(h!.emu.joinViaLink(dee, link)).toBe('requested');
    await h!.until(() => h!.emu.isMember(chatId, dee.id), 'Dee let in');
    expect(h!.emu.webApps.length).toBe(apps);
  });

  it("launch data with a bad hash, another bot's hash, or older than an hour: a clear page and no order", async () => {
    const { group, link } = await door();
    const eve = h!.emu.addUser('Eve', { language_code: 'en' });
    const queryId = await ask(eve, link);
    const app = h!.t.service.app;
    const planId = String((await h!.t.service.deps.store.plans.list({}))[0]!.id);
    const good = h!.emu.openWebApp(queryId).initData;
    const tampered = new URLSearchParams(good);
    tampered.set('user', JSON.stringify({ id: 1, first_name: 'Mallory' }));
    const cases = [
      { initData: tampered.toString(), reason: 'door.refused.bad_hash' },
      { initData: h!.emu.openWebApp(queryId, { token: '42:another-bot' }).initData, reason: 'door.refused.bad_hash' },
      { initData: h!.emu.openWebApp(queryId, { authDate: h!.clock.now() - HOUR_MS - MINUTE_MS }).initData, reason: 'door.refused.expired' },
    ];
    for (const c of cases) {
      for (const url of [`/door/${group.id}`, `/door/${group.id}/checkout`]) {
        const r = await app.inject({ method: 'POST', url, ...form({ initData: c.initData, planId, provider: 'dev' }) });
        expect(r.statusCode).toBe(403);
        expect(r.body).toContain(`data-reason="${c.reason}"`);
      }
    }
    expect(await h!.t.service.deps.store.orders.page({ limit: 10 })).toHaveLength(0);
  });

  it('without a query id (a Bot API without guard bots) the private-chat flow runs', async () => {
    const { chatId, link } = await door();
    h!.emu.guardBot = false;
    const fay = h!.emu.addUser('Fay', { language_code: 'en' });
    expect(h!.emu.joinViaLink(fay, link)).toBe('requested');
    await h!.until(() => h!.emu.messagesTo(fay.id).length > 0, 'the offer in private chat');
    expect(h!.emu.pendingRequests(chatId)).not.toContain(fay.id);
    expect(h!.emu.webApps).toHaveLength(0);
  });
});
