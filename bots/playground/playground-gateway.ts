// The playground's chat platform: simulated people and groups living in this process. Bot messages go
// to a bounded per-person inbox, group rosters are plain sets, and every change is announced to
// subscribers (the page's Server-Sent Events). Every outbound call still waits for the shared
// OutboundLimiter, exactly like a real platform would.
import type { Platform } from '../../src/app/model.ts';
import type {
  ChatGateway,
  ChatMemberStatus,
  Choice,
  Clock,
  InviteContext,
  InviteResult,
  Lane,
  RemoveOptions,
  RemoveResult,
  RosterPerson,
  SendOptions,
  Store,
} from '../../src/app/ports.ts';
import type { AcquireRequest } from '../../src/jobs/outbound-limiter.ts';
import type { Reply } from '../../src/conversation/types.ts';

/** A reply as the page renders it: images become data URLs. */
export type PlaygroundReply =
  | { type: 'text'; text: string }
  | { type: 'choices'; text: string; choices: Choice[] }
  | { type: 'image'; src: string; caption: string; url?: string }
  | { type: 'link'; text: string; url: string; label: string };

/** One line of a person's chat: something they sent, or something the bot sent them. */
export interface InboxEntry {
  id: number;
  at: number;
  from: 'person' | 'bot';
  reply: PlaygroundReply;
  /** A very long message a person typed, kept only up to this many characters (the page says so). */
  cutAt?: number;
}

export type PlaygroundEvent =
  ({ type: 'message'; userId: string } & InboxEntry) | { type: 'roster'; chatId: string; members: string[] } | { type: 'clock'; now: number; offsetMs: number };

export type PlaygroundListener = (e: PlaygroundEvent) => void;

/** The limiter's one method the gateway needs (the service's OutboundLimiter). */
export interface OutboundGate {
  acquire(req: AcquireRequest): Promise<void>;
}

export const DEFAULT_INBOX_LIMIT = 200;

export function renderReply(r: Reply): PlaygroundReply {
  switch (r.type) {
    case 'text':
      return { type: 'text', text: r.text };
    case 'choices':
      return { type: 'choices', text: r.text, choices: r.choices.map((c) => ({ value: c.value, label: c.label })) };
    case 'image':
      return { type: 'image', src: `data:image/png;base64,${r.png.toString('base64')}`, caption: r.caption, ...(r.url !== undefined ? { url: r.url } : {}) };
    case 'link':
      return { type: 'link', text: r.text, url: r.url, label: r.label };
  }
}

export class PlaygroundGateway implements ChatGateway {
  readonly platform: Platform = 'playground';
  /** The page draws choices as buttons that send the value back. */
  readonly choicesAreButtons = true;
  private readonly inboxes = new Map<string, InboxEntry[]>();
  private readonly rosters = new Map<string, Set<string>>();
  private readonly listeners = new Set<PlaygroundListener>();
  private seq = 0;
  /** Whose chats are kept (the routes: people with a live session); null keeps everyone's. */
  private keep: ((userId: string) => boolean) | null = null;

  constructor(
    private readonly limiter: OutboundGate,
    private readonly clock: Clock,
    private readonly opts: { inboxLimit?: number } = {},
  ) {}

  // ------------------------------------------------------------ ChatGateway

  async sendText(userId: string, text: string, opts: SendOptions): Promise<void> {
    await this.gate(userId, false, opts.lane);
    this.record(userId, 'bot', { type: 'text', text });
  }

  async sendImage(userId: string, png: Buffer, caption: string, opts: SendOptions): Promise<void> {
    await this.gate(userId, false, opts.lane);
    this.record(userId, 'bot', renderReply({ type: 'image', png, caption }));
  }

  async sendChoices(userId: string, text: string, choices: Choice[], opts: SendOptions): Promise<void> {
    await this.gate(userId, false, opts.lane);
    this.record(userId, 'bot', { type: 'choices', text, choices: choices.map((c) => ({ value: c.value, label: c.label })) });
  }

  async invite(chatId: string, userId: string, _ctx: InviteContext): Promise<InviteResult> {
    await this.gate(chatId, true, 'invite');
    const r = this.roster(chatId);
    if (!r.has(userId)) {
      r.add(userId);
      this.emitRoster(chatId);
    }
    return 'added';
  }

  async remove(chatId: string, userId: string, opts: RemoveOptions): Promise<RemoveResult> {
    await this.gate(chatId, true, 'removal');
    // The limiter may have kept this waiting: someone who renewed meanwhile stays.
    if (opts.stillDue && !(await opts.stillDue())) return 'kept';
    const r = this.rosters.get(chatId);
    if (r?.delete(userId)) this.emitRoster(chatId);
    return 'removed';
  }

  async memberStatus(chatId: string, userId: string): Promise<ChatMemberStatus> {
    await this.gate(chatId, true, 'system');
    return this.rosters.get(chatId)?.has(userId) ? 'member' : 'absent';
  }

  async rosterSnapshot(chatId: string): Promise<RosterPerson[]> {
    await this.gate(chatId, true, 'system');
    return [...(this.rosters.get(chatId) ?? [])].map((userId) => ({ userId, name: null }));
  }

  // ------------------------------------------------------------ the page's side

  /** Adds a line to a person's chat (their own message, or the bot's answer to it) and announces it. */
  record(userId: string, from: InboxEntry['from'], reply: PlaygroundReply, cutAt?: number): InboxEntry {
    const entry: InboxEntry = { id: ++this.seq, at: this.clock.now(), from, reply, ...(cutAt !== undefined ? { cutAt } : {}) };
    let inbox = this.inboxes.get(userId);
    if (!inbox && this.keep && !this.keep(userId)) return entry; // nobody can read it: hold nothing
    if (!inbox) {
      inbox = [];
      this.inboxes.set(userId, inbox);
    }
    inbox.push(entry);
    const limit = this.opts.inboxLimit ?? DEFAULT_INBOX_LIMIT;
    if (inbox.length > limit) inbox.splice(0, inbox.length - limit);
    this.emit({ type: 'message', userId, ...entry });
    return entry;
  }

  /** Keeps chats only for people `keep` accepts (messages to anyone else are not stored). */
  keepInboxesOf(keep: (userId: string) => boolean): void {
    this.keep = keep;
  }

  /** Drops a person's chat (their session ended). */
  forget(userId: string): void {
    this.inboxes.delete(userId);
  }

  /** How many chats are held in memory. */
  get inboxCount(): number {
    return this.inboxes.size;
  }

  /** A copy of the person's chat, oldest first. */
  inbox(userId: string): InboxEntry[] {
    return [...(this.inboxes.get(userId) ?? [])];
  }

  /** The members of one group, in the order they joined. */
  members(chatId: string): string[] {
    return [...(this.rosters.get(chatId) ?? [])];
  }

  isMember(chatId: string, userId: string): boolean {
    return this.rosters.get(chatId)?.has(userId) ?? false;
  }

  /** How many subscribers (open event streams) are listening. */
  get subscriberCount(): number {
    return this.listeners.size;
  }

  subscribe(listener: PlaygroundListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Tells the page the service clock moved (time travel). */
  announceClock(c: { now: number; offsetMs: number }): void {
    this.emit({ type: 'clock', now: c.now, offsetMs: c.offsetMs });
  }

  /**
   * Rebuilds the rosters from the store after a restart: everyone whose membership of a playground
   * group is active or in grace is in that group, and nobody else.
   */
  async restoreRosters(store: Pick<Store, 'groups' | 'memberships'>): Promise<void> {
    const groups = (await store.groups.list()).filter((g) => g.platform === 'playground');
    for (const g of groups) {
      const rows = await store.memberships.list({ groupId: g.id });
      const members = rows.filter((m) => m.platform === 'playground' && (m.status === 'active' || m.status === 'grace')).map((m) => m.platformUserId);
      this.rosters.set(g.platformChatId, new Set(members));
      this.emitRoster(g.platformChatId);
    }
  }

  // ------------------------------------------------------------ internals

  private gate(chatId: string, isGroup: boolean, lane: Lane): Promise<void> {
    return this.limiter.acquire({ platform: 'playground', chatId, isGroup, lane });
  }

  private roster(chatId: string): Set<string> {
    let r = this.rosters.get(chatId);
    if (!r) {
      r = new Set();
      this.rosters.set(chatId, r);
    }
    return r;
  }

  private emitRoster(chatId: string): void {
    this.emit({ type: 'roster', chatId, members: this.members(chatId) });
  }

  private emit(e: PlaygroundEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // A broken subscriber (a closed stream) must not stop the others or the sender.
      }
    }
  }
}
