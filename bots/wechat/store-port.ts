// The WeChat adapter's own tables, as a port: room bindings, adds waiting for room-join and the stable identity fields that survive a puppet re-login (the whitelist and dry-run reports are core:
// store.roster). Only bots/wechat
// uses them (app/ never sees them); src/store/wechat-repository.ts implements them.
import type { Repos, Store } from '../../src/app/ports.ts';

export interface WechatRoomBinding {
  groupId: number;
  roomId: string;
  boundBy: number | null;
  boundAt: number;
}

/** `direct`: a plain add (room of 40 or fewer); `invitation`: the room is bigger, the person must accept an invitation. */
export type WechatAddMode = 'direct' | 'invitation';
/** `failed`: the add call itself failed (its job retries, which starts a new wait). */
export type WechatAddState = 'pending' | 'joined' | 'timed_out' | 'failed';

export interface WechatPendingAdd {
  membershipId: number;
  groupId: number;
  accountId: number;
  contactId: string;
  roomId: string;
  mode: WechatAddMode;
  state: WechatAddState;
  requestedAt: number;
  deadlineAt: number;
  resolvedAt: number | null;
  attempts: number;
}

export interface WechatIdentity {
  accountId: number;
  handle: string | null;
  aliasTag: string | null;
  name: string | null;
  updatedAt: number;
}

export interface WechatRepo {
  /** Records (or refreshes) who bound a room to a group. */
  bindRoom(b: { groupId: number; roomId: string; boundBy: number | null }, now: number): Promise<void>;
  getBinding(groupId: number): Promise<WechatRoomBinding | null>;
  /** Starts (or restarts) waiting for this membership's room-join: state pending, attempts counted. */
  upsertPendingAdd(p: Omit<WechatPendingAdd, 'state' | 'resolvedAt' | 'attempts'>): Promise<void>;
  getPendingAdd(membershipId: number): Promise<WechatPendingAdd | null>;
  /** Conditional: moves the row only from one of `from`. True when it moved. */
  resolvePendingAdd(membershipId: number, from: WechatAddState[], to: WechatAddState, now: number): Promise<boolean>;
  /** Pending adds whose deadline has passed. */
  pendingAddsDue(now: number, limit: number): Promise<WechatPendingAdd[]>;
  getIdentity(accountId: number): Promise<WechatIdentity | null>;
  findIdentityByHandle(handle: string): Promise<WechatIdentity | null>;
  upsertIdentity(i: { accountId: number; handle: string | null; aliasTag: string | null; name: string | null }, now: number): Promise<void>;
  /**
   * The puppet gave this person a new contact id: moves the account (and its pending adds and whitelist
   * entries in group_whitelist) to it. Returns the old id, or null when the account is not a WeChat account or already has it.
   */
  repointAccount(accountId: number, newContactId: string): Promise<string | null>;
}

/** The core repos and the WeChat tables, bound to one transaction. */
export interface WechatRepos extends Repos {
  wechat: WechatRepo;
}

/** The store as the WeChat adapter sees it: the core store plus its own tables, in and out of transactions. */
export interface WechatStore extends Store {
  wechat: WechatRepo;
  /** Runs `fn` in one database transaction that covers the WeChat tables too. Never make a network call inside. */
  transaction<T>(fn: (tx: WechatRepos) => Promise<T>): Promise<T>;
}
