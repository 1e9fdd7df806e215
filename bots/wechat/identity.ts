// Who is who. Some puppets hand out new contact ids after a re-login, so an account is matched again by
// what survives one rather than duplicated: the remark (alias) the bot set on the contact, `gk-<account id>`
// (only the bot's account can set it), and the person's WeChat ID (`handle`) when the puppet offers it.
// A display name is never enough. Account moves are audited.
import type { Contact, Wechaty } from 'wechaty';
import type { Account } from '../../src/app/model.ts';
import { contactName, errText, paced, PLATFORM, type WechatCore } from './wechat-context.ts';

export const aliasTag = (accountId: number) => `gk-${accountId}`;
const TAG_RE = /^gk-(\d{1,9})$/;

export const tagAccountId = (alias: string | null | undefined): number | null => {
  const m = TAG_RE.exec((alias ?? '').trim());
  return m ? Number(m[1]) : null;
};

function handleOf(c: Contact): string | null {
  try {
    const h = c.handle();
    return typeof h === 'string' && h.trim() ? h.trim().slice(0, 100) : null;
  } catch {
    return null;
  }
}

async function aliasOf(c: Contact): Promise<string | null> {
  try {
    const a = await c.alias();
    return typeof a === 'string' && a.trim() ? a.trim() : null;
  } catch {
    return null;
  }
}

export class Identity {
  /** One resolution per contact at a time: two messages arriving together must not create two accounts. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly core: WechatCore) {}

  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }

  /**
   * The account of a contact seen now: by its id; else by the stable fields (the account then moves to the
   * new id); else a new account when `create` (a person writing to the bot), or null (a stranger in a room).
   */
  accountFor(contact: Contact, opts: { create: boolean }): Promise<Account | null> {
    return this.serialize(contact.id, async () => {
      const { store, clock } = this.core.deps;
      const handle = handleOf(contact);
      const alias = await aliasOf(contact);
      const name = contactName(contact).slice(0, 100);
      let account = await store.accounts.find(PLATFORM, contact.id);
      if (!account) {
        const matched = await this.matchStable(alias, handle);
        if (matched) account = await this.repoint(matched, contact.id, alias && tagAccountId(alias) === matched.id ? 'remark' : 'wechat id');
      }
      if (!account && opts.create) account = await store.accounts.upsert({ platform: PLATFORM, platformUserId: contact.id, displayName: name }, clock.now());
      if (!account) return null;
      const tag = alias && tagAccountId(alias) === account.id ? alias : null;
      const known = await store.wechat.getIdentity(account.id);
      if (!known || (handle && known.handle !== handle) || (tag && known.aliasTag !== tag) || known.name !== name) {
        await store.wechat.upsertIdentity({ accountId: account.id, handle, aliasTag: tag, name }, clock.now());
      }
      return account;
    });
  }

  private async matchStable(alias: string | null, handle: string | null): Promise<Account | null> {
    const { store } = this.core.deps;
    const tagged = tagAccountId(alias);
    if (tagged !== null) {
      const a = await store.accounts.get(tagged);
      if (a?.platform === PLATFORM) return a;
    }
    if (handle) {
      const ident = await store.wechat.findIdentityByHandle(handle);
      if (ident) return store.accounts.get(ident.accountId);
    }
    return null;
  }

  /** Moves an account to the contact id the puppet uses now, with an audit line saying why. */
  private async repoint(account: Account, newId: string, by: string): Promise<Account | null> {
    const { store, clock } = this.core.deps;
    const moved = await store.transaction(async (tx) => {
      const old = await tx.wechat.repointAccount(account.id, newId);
      if (old === null) return false;
      await tx.audit.insert({
        at: clock.now(),
        actor: 'system',
        action: 'wechat.identity_rematched',
        subjectType: 'account',
        subjectId: String(account.id),
        reason: `WeChat contact id changed (matched again by ${by})`,
        detail: { from: old, to: newId },
      });
      return true;
    });
    if (moved) this.core.logger.info({ accountId: account.id, by }, 'wechat contact id changed; account matched again');
    return store.accounts.get(account.id);
  }

  /**
   * The live contact of an account's stored id. When that id no longer resolves (a re-login changed it),
   * the person is looked for by remark and WeChat ID and the account follows them. Null when not found.
   */
  async contactFor(userId: string): Promise<Contact | null> {
    const bot = this.core.bot.ready();
    const live = await this.live(bot, userId);
    if (live) return live;
    const { store } = this.core.deps;
    const account = await store.accounts.find(PLATFORM, userId);
    if (!account) return null;
    const ident = await store.wechat.getIdentity(account.id);
    let found: Contact | undefined;
    try {
      const tag = ident?.aliasTag ?? aliasTag(account.id);
      found = (await bot.Contact.findAll({ alias: tag })).find((c) => c.id !== userId);
      if (!found && ident?.handle) found = (await bot.Contact.findAll()).find((c) => c.id !== userId && handleOf(c) === ident.handle);
    } catch (err) {
      this.core.logger.warn({ err: errText(err) }, 'wechat contact search failed');
      return null;
    }
    if (!found) return null;
    await this.repoint(account, found.id, tagAccountId(await aliasOf(found)) === account.id ? 'remark' : 'wechat id');
    return found;
  }

  private async live(bot: Wechaty, id: string): Promise<Contact | null> {
    let c: Contact | undefined;
    try {
      c = await bot.Contact.find({ id });
    } catch {
      return null;
    }
    if (!c) return null;
    try {
      await c.sync(); // a cached payload of a dead id would look alive: ask the puppet
    } catch {
      return null;
    }
    return c.name() || c.handle() ? c : null;
  }

  /**
   * Puts the remark `gk-<account id>` on a friend who has none, so the account is found again after a
   * re-login. A remark someone chose by hand is never overwritten. Paced like any other call.
   */
  async ensureTag(contact: Contact, account: Account): Promise<void> {
    try {
      if (contact.friend() === false || contact.self()) return;
      const alias = await aliasOf(contact);
      if (alias) return;
      const tag = aliasTag(account.id);
      await paced(this.core, { chatId: contact.id, isGroup: false, lane: 'system' }, 'set remark', () => contact.alias(tag));
      if (tagAccountId(await aliasOf(contact)) === account.id) {
        await this.core.deps.store.wechat.upsertIdentity(
          { accountId: account.id, handle: handleOf(contact), aliasTag: tag, name: null },
          this.core.deps.clock.now(),
        );
      }
    } catch (err) {
      this.core.logger.warn({ err: errText(err) }, 'wechat remark not set');
    }
  }
}
