// The Telegram adapter's own tables, as a port: the bot's standing in each bound group, join-request
// invite links, pending join requests, the roster as chat_member updates tell it, and chat migration (the
// whitelist and dry-run reports are core: store.roster). Only bots/telegram
// uses them (app/ never sees them); src/store/telegram-repository.ts implements them.
import type { Group } from '../../src/app/model.ts';
import type { Repos, Store } from '../../src/app/ports.ts';

/** The bot's own standing in a bound group, as the last my_chat_member update told it. */
export interface TelegramGroupState {
  groupId: number;
  /** `administrator`, `member`, `left`, `kicked`… */
  botStatus: string;
  /** Comma list of what the bot lacks there (`admin`, `invite`, `restrict`); empty when it has all it needs. */
  missingRights: string;
  updatedAt: number;
}

/** A join-request invite link made for one membership. */
export interface TelegramInviteLink {
  groupId: number;
  membershipId: number;
  userId: string;
  inviteLink: string;
  name: string;
  expiresAt: number;
  createdAt: number;
  usedAt: number | null;
  revokedAt: number | null;
}

export type TelegramJoinRequestStatus = 'pending' | 'approved' | 'declined' | 'gone';

export interface TelegramJoinRequest {
  groupId: number;
  userId: string;
  userChatId: string | null;
  inviteLink: string | null;
  status: TelegramJoinRequestStatus;
  requestedAt: number;
  decidedAt: number | null;
  /**
   * Pay at the door: the join-request query (Bot API 10.1, guard bots) this request is answered through
   * (answerChatJoinRequestQuery instead of approve/declineChatJoinRequest), and when it lapses. Absent: none.
   */
  queryId?: string | null;
  queryExpiresAt?: number | null;
}

/** `member` covers restricted members still in the chat; `admin` covers the creator. */
export type TelegramRosterStatus = 'member' | 'admin' | 'left' | 'kicked';
/** `reported`: owner told; `removing`/`removed`: policy remove; `ignored`: policy ignore; `cleared`: turned out to be allowed. */
export type TelegramIntruderState = 'reported' | 'removing' | 'removed' | 'ignored' | 'cleared';

export interface TelegramRosterEntry {
  groupId: number;
  userId: string;
  displayName: string | null;
  isBot: boolean;
  status: TelegramRosterStatus;
  /** Last time this person was seen joining (after the group was bound); null if only seen otherwise. */
  joinedAt: number | null;
  intruderState: TelegramIntruderState | null;
  updatedAt: number;
}

export interface TelegramRepo {
  getGroupState(groupId: number): Promise<TelegramGroupState | null>;
  /** Records the bot's status and missing rights; returns the state it replaced (null the first time). */
  setGroupState(groupId: number, s: { botStatus: string; missingRights: string }, now: number): Promise<TelegramGroupState | null>;
  /** A group upgraded to a supergroup: moves the group row to the new chat id. Returns the group, or null if no group had the old id. */
  migrateChat(oldChatId: string, newChatId: string): Promise<Group | null>;
  insertInviteLink(l: Omit<TelegramInviteLink, 'usedAt' | 'revokedAt'>): Promise<void>;
  /** Links of this person in this group that are neither used nor revoked. */
  openInviteLinks(groupId: number, userId: string): Promise<TelegramInviteLink[]>;
  findInviteLink(inviteLink: string): Promise<TelegramInviteLink | null>;
  markInviteLinkUsed(inviteLink: string, now: number): Promise<void>;
  markInviteLinkRevoked(inviteLink: string, now: number): Promise<void>;
  /** Inserts or replaces the person's latest request for the group. */
  saveJoinRequest(r: TelegramJoinRequest): Promise<void>;
  getJoinRequest(groupId: number, userId: string): Promise<TelegramJoinRequest | null>;
  /** Conditional: moves the request only from one of `from`. True when it moved. */
  decideJoinRequest(groupId: number, userId: string, from: TelegramJoinRequestStatus[], to: TelegramJoinRequestStatus, now: number): Promise<boolean>;
  /**
   * True when anything about this person in this group is recorded: a roster row (seen joining, leaving,
   * banned…), a join request, or an invite link, used or not. False: the bot never had any dealing with them there.
   */
  knowsPerson(groupId: number, userId: string): Promise<boolean>;
  getRosterEntry(groupId: number, userId: string): Promise<TelegramRosterEntry | null>;
  upsertRosterEntry(e: TelegramRosterEntry): Promise<void>;
  listRoster(q: { groupId: number; status?: TelegramRosterStatus; intruderStates?: TelegramIntruderState[]; limit: number }): Promise<TelegramRosterEntry[]>;
  setIntruderState(groupId: number, userId: string, state: TelegramIntruderState | null, now: number): Promise<void>;
}

/** The core repos and the Telegram tables, bound to one transaction. */
export interface TelegramRepos extends Repos {
  telegram: TelegramRepo;
}

/** The store as the Telegram adapter sees it: the core store plus its own tables, in and out of transactions. */
export interface TelegramStore extends Store {
  telegram: TelegramRepo;
  /** Runs `fn` in one database transaction that covers the Telegram tables too. Never make a network call inside. */
  transaction<T>(fn: (tx: TelegramRepos) => Promise<T>): Promise<T>;
}
