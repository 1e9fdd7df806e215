// Who may act as which simulated person, and how much one client may hold. Anyone who can open the page
// can see every person's public id (rosters show it), so the id proves nothing: each person also gets a
// secret session token (256 random bits) when created, handed only to the browser that created them and
// kept here only as a SHA-256 hash. Every per-person action presents it. Sessions live in memory: a restart
// or a long idle spell ends them (the account rows stay; the browser simply forgets that person).
//
// Per client address (an IPv6 client counts by its /64): at most `peoplePerClient` live people and
// `streamsPerClient` open event streams; people idle for `idleMs` (no request and no open stream) are
// evicted with their inbox. Global ceilings keep a client with many addresses bounded too.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SessionLimits {
  peoplePerClient: number;
  streamsPerClient: number;
  idleMs: number;
  maxPeople: number;
  maxStreams: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  peoplePerClient: 20,
  streamsPerClient: 5,
  idleMs: 24 * 3_600_000,
  maxPeople: 5_000,
  maxStreams: 1_000,
};

export const TOKEN = /^pgt_[A-Za-z0-9_-]{43}$/;

interface Session {
  tokenHash: Buffer;
  client: string;
  lastSeen: number;
  streams: number;
}

const hash = (token: string) => createHash('sha256').update(token).digest();

/** The address a cap is counted against: IPv4 as is, IPv6 by its /64 (one host usually owns a whole /64). */
export function clientKey(ip: string | undefined): string {
  const addr = (ip ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (!addr.includes(':')) return addr || 'unknown';
  const [head = '', tail = ''] = addr.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = addr.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class PlaygroundSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly peopleByClient = new Map<string, Set<string>>();
  private readonly streamsByClient = new Map<string, number>();
  private streams = 0;

  constructor(
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    /** Wall time, never the service clock: time travel must not evict anyone. */
    private readonly now: () => number = Date.now,
    private readonly onEvict: (userId: string) => void = () => {},
  ) {}

  /** Room for one more person from this client? Evicts idle people first. */
  canCreate(client: string): 'ok' | 'client' | 'global' {
    this.evictIdle();
    if ((this.peopleByClient.get(client)?.size ?? 0) >= this.limits.peoplePerClient) return 'client';
    if (this.sessions.size >= this.limits.maxPeople) return 'global';
    return 'ok';
  }

  /** Registers a new person and returns their token (the only time it exists in clear). */
  create(client: string, userId: string): string {
    const token = `pgt_${randomBytes(32).toString('base64url')}`;
    this.sessions.set(userId, { tokenHash: hash(token), client, lastSeen: this.now(), streams: 0 });
    let set = this.peopleByClient.get(client);
    if (!set) this.peopleByClient.set(client, (set = new Set()));
    set.add(userId);
    return token;
  }

  /** True when `token` is this person's; a hit counts as activity. Compared in constant time. */
  verify(userId: string, token: unknown): boolean {
    const s = this.sessions.get(userId);
    const ok = typeof token === 'string' && TOKEN.test(token) && s !== undefined && timingSafeEqual(hash(token), s.tokenHash);
    if (ok) s!.lastSeen = this.now();
    return ok;
  }

  has(userId: string): boolean {
    return this.sessions.has(userId);
  }

  /** Takes a stream slot for this client (and person, if any); null when the client or the server is at its cap. */
  openStream(client: string, userId: string | null): (() => void) | null {
    const n = this.streamsByClient.get(client) ?? 0;
    if (n >= this.limits.streamsPerClient || this.streams >= this.limits.maxStreams) return null;
    this.streamsByClient.set(client, n + 1);
    this.streams++;
    const s = userId !== null ? this.sessions.get(userId) : undefined;
    if (s) s.streams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.streamsByClient.get(client) ?? 1) - 1;
      if (left > 0) this.streamsByClient.set(client, left);
      else this.streamsByClient.delete(client);
      this.streams--;
      if (s) {
        s.streams--;
        s.lastSeen = this.now();
      }
    };
  }

  /** Ends the sessions of people with no request and no open stream for `idleMs`; returns their ids. */
  evictIdle(): string[] {
    const cutoff = this.now() - this.limits.idleMs;
    const gone: string[] = [];
    for (const [userId, s] of this.sessions) {
      if (s.streams > 0 || s.lastSeen > cutoff) continue;
      this.sessions.delete(userId);
      const set = this.peopleByClient.get(s.client);
      set?.delete(userId);
      if (set?.size === 0) this.peopleByClient.delete(s.client);
      gone.push(userId);
    }
    for (const userId of gone) this.onEvict(userId);
    return gone;
  }

  /** Sizes of everything held, for tests and diagnostics. */
  stats(): { people: number; clients: number; streams: number; streamClients: number } {
    return { people: this.sessions.size, clients: this.peopleByClient.size, streams: this.streams, streamClients: this.streamsByClient.size };
  }
}
