import type { Platform } from '../../src/app/model.ts';
import type {
  ChatGateway,
  ChatMemberStatus,
  Choice,
  InviteContext,
  InviteResult,
  RemoveOptions,
  RemoveResult,
  RosterPerson,
  SendOptions,
} from '../../src/app/ports.ts';

export type GatewayCall =
  | { op: 'text'; userId: string; text: string; lane: string }
  | { op: 'image'; userId: string; bytes: number; caption: string; lane: string }
  | { op: 'choices'; userId: string; text: string; choices: Choice[]; lane: string }
  | { op: 'invite'; chatId: string; userId: string; ctx: InviteContext }
  | { op: 'remove'; chatId: string; userId: string; ban: boolean };

/**
 * A chat platform that records what would have been sent and keeps a roster per chat. Tests can make
 * the next calls fail with `failNext(n, error)` to exercise retries and dead letters.
 */
export class RecordingGateway implements ChatGateway {
  readonly calls: GatewayCall[] = [];
  readonly rosters = new Map<string, Set<string>>();
  private failures: Array<() => Error> = [];
  private rules: Array<{ when: (c: { op: GatewayCall['op'] | 'status'; userId: string; chatId?: string }) => boolean; error: () => Error }> = [];

  /** Records choices as the playground and Telegram draw them: buttons (pass false for WeChat's numbered text). */
  constructor(
    readonly platform: Platform = 'playground',
    readonly choicesAreButtons = true,
  ) {}

  failNext(n: number, error: () => Error): void {
    for (let i = 0; i < n; i++) this.failures.push(error);
  }

  /** Every call matching `when` fails with `error` until the returned function lifts it (an outage, a blocked chat). */
  failWhen(when: (c: { op: GatewayCall['op'] | 'status'; userId: string; chatId?: string }) => boolean, error: () => Error): () => void {
    const rule = { when, error };
    this.rules.push(rule);
    return () => {
      this.rules = this.rules.filter((r) => r !== rule);
    };
  }

  private maybeFail(c?: { op: GatewayCall['op'] | 'status'; userId: string; chatId?: string }): void {
    const rule = c ? this.rules.find((r) => r.when(c)) : undefined;
    if (rule) throw rule.error();
    const f = this.failures.shift();
    if (f) throw f();
  }

  roster(chatId: string): Set<string> {
    let r = this.rosters.get(chatId);
    if (!r) {
      r = new Set();
      this.rosters.set(chatId, r);
    }
    return r;
  }

  async sendText(userId: string, text: string, opts: SendOptions): Promise<void> {
    this.maybeFail({ op: 'text', userId });
    this.calls.push({ op: 'text', userId, text, lane: opts.lane });
  }
  async sendImage(userId: string, png: Buffer, caption: string, opts: SendOptions): Promise<void> {
    this.maybeFail();
    this.calls.push({ op: 'image', userId, bytes: png.length, caption, lane: opts.lane });
  }
  async sendChoices(userId: string, text: string, choices: Choice[], opts: SendOptions): Promise<void> {
    this.maybeFail();
    this.calls.push({ op: 'choices', userId, text, choices, lane: opts.lane });
  }
  async invite(chatId: string, userId: string, ctx: InviteContext): Promise<InviteResult> {
    this.maybeFail({ op: 'invite', userId, chatId });
    this.calls.push({ op: 'invite', chatId, userId, ctx });
    this.roster(chatId).add(userId);
    return 'added';
  }
  async remove(chatId: string, userId: string, opts: RemoveOptions): Promise<RemoveResult> {
    this.maybeFail({ op: 'remove', userId, chatId });
    if (opts.stillDue && !(await opts.stillDue())) return 'kept';
    this.calls.push({ op: 'remove', chatId, userId, ban: opts.ban });
    this.roster(chatId).delete(userId);
    return 'removed';
  }
  async memberStatus(chatId: string, userId: string): Promise<ChatMemberStatus> {
    const rule = this.rules.find((r) => r.when({ op: 'status', userId, chatId }));
    if (rule) throw rule.error();
    return this.roster(chatId).has(userId) ? 'member' : 'absent';
  }

  async rosterSnapshot(chatId: string): Promise<RosterPerson[]> {
    return [...this.roster(chatId)].map((userId) => ({ userId, name: null }));
  }

  of<K extends GatewayCall['op']>(op: K): Extract<GatewayCall, { op: K }>[] {
    return this.calls.filter((c): c is Extract<GatewayCall, { op: K }> => c.op === op);
  }
}
