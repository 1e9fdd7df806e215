// The outbound pacing gate, entirely in virtual time: every wait is a FakeClock sleeper, so these tests
// never sleep for real and assert exact virtual timestamps.
import { describe, expect, it } from 'vitest';
import type { Lane } from '../../src/app/ports.ts';
import { type AcquireRequest, DEFAULT_LIMITS, OutboundLimiter, type PlatformLimits } from '../../src/jobs/outbound-limiter.ts';
import { type JobCallContext, runInJobContext, YieldedError } from '../../src/jobs/job-context.ts';
import { FakeClock, flush } from '../fakes/fake-clock.ts';

const TELEGRAM: Record<string, PlatformLimits> = { telegram: { perSecond: 30, perChatPerSecond: 1, perGroupPerMinute: 20 } };

interface Grant {
  label: string;
  at: number;
}

/**
 * A limiter on a fake clock plus a log of grants in the order they happened, stamped with virtual time.
 * A grant is stamped when its continuation runs, so tests `flush()` after acquiring and before moving
 * the clock, or an immediate grant would be stamped with the later time.
 */
function setup(limits: Record<string, PlatformLimits>, random?: () => number) {
  const clock = new FakeClock();
  const t0 = clock.now();
  const limiter = new OutboundLimiter(clock, limits, random);
  const grants: Grant[] = [];
  const acquire = (req: AcquireRequest, label = `${req.lane}:${req.chatId ?? '-'}`) => {
    const p = limiter.acquire(req).then(() => {
      grants.push({ label, at: clock.now() - t0 });
    });
    return p;
  };
  return { clock, t0, limiter, grants, acquire };
}

/** True when no span of `spanMs` (half-open) holds more than `max` of the sorted times. */
function maxInWindow(times: number[], spanMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= spanMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('OutboundLimiter: Telegram-like limits', () => {
  it('paces 100 calls to distinct chats at ≤ 30 per 1000 ms and completes them all', async () => {
    const { clock, limiter, grants, acquire } = setup(TELEGRAM);
    const all = Array.from({ length: 100 }, (_, i) => acquire({ platform: 'telegram', chatId: `u${i}`, lane: 'notice' }));
    await flush();
    expect(grants).toHaveLength(30);
    expect(limiter.pending).toBe(70);

    await clock.advance(10_000);
    await Promise.all(all);
    expect(grants).toHaveLength(100);
    expect(limiter.pending).toBe(0);
    const times = grants.map((g) => g.at);
    expect(maxInWindow(times, 1000)).toBe(30);
    // And it uses the budget it has: 30 at 0 s, 30 at 1 s, 30 at 2 s, 10 at 3 s.
    expect(Math.max(...times)).toBe(3000);
    expect(times.filter((t) => t === 1000)).toHaveLength(30);
    expect(limiter.stats.calls.get('telegram')).toBe(100);
  });

  it('stays within 30/s when calls keep arriving over time', async () => {
    const { clock, grants, acquire } = setup(TELEGRAM);
    const all: Promise<void>[] = [];
    // 12 new calls every 250 ms for 5 s: 48/s offered against a 30/s budget.
    for (let step = 0; step < 20; step++) {
      for (let i = 0; i < 12; i++) all.push(acquire({ platform: 'telegram', chatId: `s${step}-${i}`, lane: 'notice' }));
      await flush();
      await clock.advance(250);
    }
    await clock.advance(20_000);
    await Promise.all(all);
    expect(grants).toHaveLength(240);
    expect(
      maxInWindow(
        grants.map((g) => g.at),
        1000,
      ),
    ).toBeLessThanOrEqual(30);
  });

  it('sends at most 1 message per second to the same private chat', async () => {
    const { clock, grants, acquire } = setup(TELEGRAM);
    const all = Array.from({ length: 5 }, () => acquire({ platform: 'telegram', chatId: 'alice', lane: 'notice' }));
    await flush();
    expect(grants.map((g) => g.at)).toEqual([0]);
    await clock.advance(999);
    expect(grants).toHaveLength(1);
    await clock.advance(1);
    expect(grants).toHaveLength(2);
    await clock.advance(10_000);
    await Promise.all(all);
    expect(grants.map((g) => g.at)).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it('does not let one busy chat hold up calls to other chats', async () => {
    const { grants, acquire } = setup(TELEGRAM);
    void acquire({ platform: 'telegram', chatId: 'alice', lane: 'invite' }, 'alice-1');
    void acquire({ platform: 'telegram', chatId: 'alice', lane: 'invite' }, 'alice-2');
    void acquire({ platform: 'telegram', chatId: 'bob', lane: 'broadcast' }, 'bob');
    await flush();
    // alice-2 must wait a second for alice's chat; bob's lower-lane call goes meanwhile.
    expect(grants.map((g) => g.label)).toEqual(['alice-1', 'bob']);
  });

  it('sends at most 20 messages per minute to the same group', async () => {
    const { clock, grants, acquire } = setup(TELEGRAM);
    const all = Array.from({ length: 45 }, () => acquire({ platform: 'telegram', chatId: '-100group', isGroup: true, lane: 'notice' }, 'group'));
    await flush();
    // The group limit is per minute, not per second: 20 go at once, no more.
    expect(grants).toHaveLength(20);
    await clock.advance(59_999);
    expect(grants).toHaveLength(20);
    // A private chat is not held back by the group's budget.
    const other = acquire({ platform: 'telegram', chatId: 'carol', lane: 'notice' }, 'carol');
    await flush();
    expect(grants.at(-1)).toEqual({ label: 'carol', at: 59_999 });
    await clock.advance(1);
    expect(grants.filter((g) => g.label === 'group')).toHaveLength(40);
    await clock.advance(120_000);
    await Promise.all([...all, other]);
    const times = grants.filter((g) => g.label === 'group').map((g) => g.at);
    expect(times).toHaveLength(45);
    expect(maxInWindow(times, 60_000)).toBe(20);
    expect(Math.max(...times)).toBe(120_000);
  });

  it('serves a waiting invite before broadcasts queued ahead of it', async () => {
    const { clock, grants, acquire } = setup(TELEGRAM);
    const all = Array.from({ length: 50 }, (_, i) => acquire({ platform: 'telegram', chatId: `b${i}`, lane: 'broadcast' }, `broadcast-${i}`));
    await flush();
    expect(grants).toHaveLength(30);
    all.push(acquire({ platform: 'telegram', chatId: 'newcomer', lane: 'invite' }, 'invite'));
    await flush();
    expect(grants).toHaveLength(30); // the budget for this second is spent; the invite waits too
    await clock.advance(1000);
    expect(grants[30]).toEqual({ label: 'invite', at: 1000 });
    await clock.advance(5000);
    await Promise.all(all);
    expect(grants).toHaveLength(51);
    // The broadcasts keep their own first-come order.
    const broadcasts = grants.filter((g) => g.label.startsWith('broadcast-')).map((g) => Number(g.label.slice('broadcast-'.length)));
    expect(broadcasts).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('orders waiting calls by lane: invites, then removals, then notices, then reminders, then broadcasts', async () => {
    const { clock, grants, acquire } = setup({ telegram: { perSecond: 1 } });
    void acquire({ platform: 'telegram', chatId: 'x', lane: 'notice' }, 'first');
    const lanes: Lane[] = ['broadcast', 'removal', 'reminder', 'broadcast', 'notice', 'invite', 'reminder', 'removal', 'invite'];
    const all = lanes.map((lane, i) => acquire({ platform: 'telegram', chatId: `c${i}`, lane }, `${lane}-${i}`));
    await flush();
    await clock.advance(10_000);
    await Promise.all(all);
    expect(grants.map((g) => g.label)).toEqual([
      'first',
      'invite-5',
      'invite-8',
      'removal-1',
      'removal-7',
      'notice-4',
      'reminder-2',
      'reminder-6',
      'broadcast-0',
      'broadcast-3',
    ]);
    expect(grants.map((g) => g.at)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
  });
});

describe('OutboundLimiter: pause (429 retry_after)', () => {
  it('blocks every call to the platform until the pause has passed, and counts it', async () => {
    const { clock, limiter, grants, acquire } = setup(TELEGRAM);
    void acquire({ platform: 'telegram', chatId: 'a', lane: 'notice' }, 'before');
    await flush();
    expect(grants).toHaveLength(1);

    limiter.pause('telegram', 5000);
    expect(limiter.stats.throttled.get('telegram')).toBe(1);
    const blocked = Array.from({ length: 5 }, (_, i) => acquire({ platform: 'telegram', chatId: `p${i}`, lane: 'invite' }, `after-${i}`));
    // Another platform is not paused.
    const other = acquire({ platform: 'wechat', chatId: 'w', lane: 'notice' }, 'wechat');
    await flush();
    expect(grants.map((g) => g.label)).toEqual(['before', 'wechat']);

    await clock.advance(4999);
    expect(grants).toHaveLength(2);
    await clock.advance(1);
    await Promise.all([...blocked, other]);
    expect(grants.filter((g) => g.label.startsWith('after-')).map((g) => g.at)).toEqual([5000, 5000, 5000, 5000, 5000]);
  });

  it('holds calls that were already waiting for the window, and a shorter second pause does not shorten it', async () => {
    const { clock, limiter, grants, acquire } = setup({ telegram: { perSecond: 1 } });
    void acquire({ platform: 'telegram', lane: 'notice' }, 'now');
    const waiting = acquire({ platform: 'telegram', lane: 'notice' }, 'waiting'); // would go at 1000
    await flush();
    limiter.pause('telegram', 3000);
    await clock.advance(500);
    limiter.pause('telegram', 100); // until 600, earlier than the first pause's 3000
    expect(limiter.stats.throttled.get('telegram')).toBe(2);
    await clock.advance(2499);
    expect(grants.map((g) => g.label)).toEqual(['now']);
    await clock.advance(1);
    await waiting;
    expect(grants.at(-1)).toEqual({ label: 'waiting', at: 3000 });
  });

  it('counts throttles per platform', () => {
    const { limiter } = setup(TELEGRAM);
    limiter.pause('telegram', 1000);
    limiter.pause('telegram', 1000);
    limiter.pause('wechat', 1000);
    expect(limiter.stats.throttled.get('telegram')).toBe(2);
    expect(limiter.stats.throttled.get('wechat')).toBe(1);
    expect(limiter.stats.throttled.get('playground')).toBeUndefined();
  });
});

describe('OutboundLimiter: WeChat-like pacing', () => {
  it('keeps at least minIntervalMs (plus the injected jitter) between calls', async () => {
    const randoms = [0, 0.999, 0.5, 0.25, 0, 0.75, 0.1, 0.9, 0.3, 0.6];
    let r = 0;
    const { clock, grants, acquire } = setup({ wechat: { minIntervalMs: 1000, jitterMs: 500 } }, () => randoms[r++ % randoms.length]!);
    const all = Array.from({ length: 10 }, (_, i) => acquire({ platform: 'wechat', chatId: `friend${i}`, lane: 'notice' }));
    await flush();
    expect(grants).toHaveLength(1);
    await clock.advance(60_000);
    await Promise.all(all);
    const times = grants.map((g) => g.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(1000);
      expect(gap).toBeLessThan(1500);
    }
    // Exactly the jitter that was drawn after each call.
    expect(gaps).toEqual(randoms.slice(0, 9).map((x) => 1000 + Math.floor(x * 500)));
  });

  it('applies the gap across different chats and lanes', async () => {
    const { clock, grants, acquire } = setup({ wechat: { minIntervalMs: 1000 } });
    const a = acquire({ platform: 'wechat', chatId: 'room@chatroom', isGroup: true, lane: 'broadcast' }, 'a');
    const b = acquire({ platform: 'wechat', chatId: 'friend', lane: 'invite' }, 'b');
    await flush();
    await clock.advance(999);
    expect(grants.map((g) => g.label)).toEqual(['a']);
    await clock.advance(1);
    await Promise.all([a, b]);
    expect(grants).toEqual([
      { label: 'a', at: 0 },
      { label: 'b', at: 1000 },
    ]);
  });

  it('caps calls per rolling day: calls past the cap wait for the oldest to age out', async () => {
    const { clock, limiter, grants, acquire } = setup({ wechat: { perDay: 3 } });
    const first = Array.from({ length: 3 }, (_, i) => acquire({ platform: 'wechat', chatId: `f${i}`, lane: 'notice' }));
    await flush();
    await clock.advance(60_000);
    const late = acquire({ platform: 'wechat', chatId: 'f3', lane: 'invite' }, 'late');
    await Promise.all(first);
    await flush();
    expect(grants).toHaveLength(3);
    expect(limiter.pending).toBe(1);
    await clock.advance(86_400_000 - 60_000 - 1);
    expect(grants).toHaveLength(3);
    await clock.advance(1);
    await late;
    expect(grants.at(-1)).toEqual({ label: 'late', at: 86_400_000 });
  });

  it('uses the defaults the design names: ≥ 1 s between WeChat sends', async () => {
    const { clock, grants, acquire } = setup(DEFAULT_LIMITS, () => 0.999);
    const all = Array.from({ length: 4 }, (_, i) => acquire({ platform: 'wechat', chatId: `f${i}`, lane: 'notice' }));
    await flush();
    await clock.advance(10_000);
    await Promise.all(all);
    const times = grants.map((g) => g.at);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
  });
});

describe('OutboundLimiter: platforms without limits', () => {
  it('lets every call to an unknown platform through at once', async () => {
    const { clock, limiter, grants, acquire } = setup(TELEGRAM);
    const all = Array.from({ length: 500 }, () => acquire({ platform: 'matrix', chatId: 'same', lane: 'broadcast' }));
    await Promise.all(all);
    expect(grants).toHaveLength(500);
    expect(grants.every((g) => g.at === 0)).toBe(true);
    expect(limiter.pending).toBe(0);
    expect(clock.pendingSleepers).toBe(0);
  });

  it('lets every playground call through at once with the default limits', async () => {
    const { grants, acquire } = setup(DEFAULT_LIMITS);
    await Promise.all(Array.from({ length: 100 }, () => acquire({ platform: 'playground', chatId: 'p', lane: 'notice' })));
    expect(grants).toHaveLength(100);
    expect(grants.every((g) => g.at === 0)).toBe(true);
  });

  it('keeps limits of one platform away from another', async () => {
    const { grants, acquire } = setup(TELEGRAM);
    for (let i = 0; i < 40; i++) void acquire({ platform: 'telegram', chatId: `t${i}`, lane: 'notice' }, 'telegram');
    const free = Array.from({ length: 40 }, (_, i) => acquire({ platform: 'matrix', chatId: `t${i}`, lane: 'notice' }, 'matrix'));
    await Promise.all(free);
    expect(grants.filter((g) => g.label === 'matrix')).toHaveLength(40);
    expect(grants.filter((g) => g.label === 'telegram')).toHaveLength(30);
  });
});

describe('OutboundLimiter: calls that post no message (issue 14 part 2)', () => {
  const SPLIT: Record<string, PlatformLimits> = { telegram: { perSecond: 30, callsPerSecond: 10, perChatPerSecond: 1, perGroupPerMinute: 20 } };

  it('counts them in a window of their own: a second of calls takes nothing from the messages', async () => {
    const { clock, grants, acquire } = setup(SPLIT);
    const calls = Array.from({ length: 15 }, (_, i) => acquire({ platform: 'telegram', lane: 'invite', kind: 'call' }, `call-${i}`));
    const messages = Array.from({ length: 35 }, (_, i) => acquire({ platform: 'telegram', chatId: `m${i}`, lane: 'notice' }, `msg-${i}`));
    await flush();
    // 10 calls and 30 messages in the same instant: each window is full, neither spent the other's budget.
    expect(grants.filter((g) => g.label.startsWith('call-'))).toHaveLength(10);
    expect(grants.filter((g) => g.label.startsWith('msg-'))).toHaveLength(30);
    await clock.advance(5000);
    await Promise.all([...calls, ...messages]);
    expect(
      maxInWindow(
        grants.filter((g) => g.label.startsWith('call-')).map((g) => g.at),
        1000,
      ),
    ).toBe(10);
    expect(
      maxInWindow(
        grants.filter((g) => g.label.startsWith('msg-')).map((g) => g.at),
        1000,
      ),
    ).toBe(30);
  });

  it('without callsPerSecond they count toward perSecond as before', async () => {
    const { grants, acquire } = setup(TELEGRAM);
    for (let i = 0; i < 20; i++) void acquire({ platform: 'telegram', lane: 'invite', kind: 'call' }, 'call');
    for (let i = 0; i < 20; i++) void acquire({ platform: 'telegram', chatId: `m${i}`, lane: 'notice' }, 'msg');
    await flush();
    expect(grants).toHaveLength(30);
  });

  it('a 429 pauses the calls too, and they still go by lane: invites first once it clears', async () => {
    const { clock, limiter, grants, acquire } = setup(SPLIT);
    limiter.pause('telegram', 60_000);
    const all = [
      acquire({ platform: 'telegram', lane: 'removal', kind: 'call' }, 'ban'),
      acquire({ platform: 'telegram', chatId: 'b', lane: 'broadcast' }, 'broadcast'),
      acquire({ platform: 'telegram', lane: 'invite', kind: 'call' }, 'invite-link'),
    ];
    await flush();
    await clock.advance(59_999);
    expect(grants).toEqual([]);
    await clock.advance(1);
    await Promise.all(all);
    expect(grants.map((g) => g.label)).toEqual(['invite-link', 'ban', 'broadcast']);
    expect(grants.every((g) => g.at === 60_000)).toBe(true);
  });
});

describe('OutboundLimiter: spaced grants (issue 14 part 2)', () => {
  it('with the default Telegram limits, grants of a window are at least 1000/30 ms apart, never a second at once', async () => {
    const { clock, grants, acquire } = setup(DEFAULT_LIMITS);
    const messages = Array.from({ length: 90 }, (_, i) => acquire({ platform: 'telegram', chatId: `u${i}`, lane: 'notice' }, 'msg'));
    const calls = Array.from({ length: 90 }, () => acquire({ platform: 'telegram', lane: 'removal', kind: 'call' }, 'call'));
    await flush();
    expect(grants.map((g) => g.label)).toEqual(['msg', 'call']);
    await clock.advance(10_000);
    await Promise.all([...messages, ...calls]);
    for (const label of ['msg', 'call']) {
      const times = grants.filter((g) => g.label === label).map((g) => g.at);
      expect(times).toHaveLength(90);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(Math.ceil(1000 / 30));
      // The window (with its 50 ms margin) still holds: never more than 30 in any 1050 ms.
      expect(maxInWindow(times, 1050)).toBeLessThanOrEqual(30);
      // And spacing costs little: 90 calls in under 3.2 s.
      expect(Math.max(...times)).toBeLessThan(3200);
    }
  });

  it('an invite that arrives while a batch of removals waits for its spacing goes next', async () => {
    const { clock, grants, acquire } = setup(DEFAULT_LIMITS);
    const removals = Array.from({ length: 40 }, (_, i) => acquire({ platform: 'telegram', lane: 'removal', kind: 'call' }, `removal-${i}`));
    await flush();
    await clock.advance(100); // three more removals went (at 34, 68 ms); the next is due at 102 ms
    const before = grants.length;
    const invite = acquire({ platform: 'telegram', lane: 'invite', kind: 'call' }, 'invite');
    await flush();
    await clock.advance(200);
    await invite;
    expect(grants[before]!.label).toBe('invite');
    await clock.advance(5000);
    await Promise.all(removals);
    expect(grants).toHaveLength(41);
  });

  it('a timer replaced by an earlier one strands nobody', async () => {
    const { clock, limiter, grants, acquire } = setup(DEFAULT_LIMITS, () => 0);
    const calls = Array.from({ length: 3 }, (_, i) => acquire({ platform: 'telegram', lane: 'removal', kind: 'call' }, `r${i}`));
    await flush();
    // A 429 puts the next pump at 2 s; a second WeChat send then needs one at 1 s: the 2 s timer is replaced.
    limiter.pause('telegram', 2000);
    const wechat = [acquire({ platform: 'wechat', chatId: 'f', lane: 'notice' }, 'w0'), acquire({ platform: 'wechat', chatId: 'f', lane: 'notice' }, 'w1')];
    await flush();
    await clock.advance(1000);
    expect(grants.map((g) => g.label)).toEqual(['r0', 'w0', 'w1']);
    await clock.advance(1000);
    expect(grants.map((g) => `${g.label}@${g.at}`)).toEqual(['r0@0', 'w0@0', 'w1@1000', 'r1@2000']);
    await clock.advance(34);
    await Promise.all([...calls, ...wechat]);
    expect(grants.at(-1)).toEqual({ label: 'r2', at: 2034 });
    expect(limiter.pending).toBe(0);
  });
});

describe('OutboundLimiter: a job asked to yield (jobs/job-context.ts)', () => {
  const jobCtx = () => {
    const ctl = new AbortController();
    const ctx: JobCallContext = { yieldSignal: ctl.signal, granted: false, yielded: false, waiting: 0 };
    return { ctl, ctx };
  };

  it('a waiting call of a job asked to yield leaves the queue and rejects with YieldedError, taking no slot', async () => {
    const { clock, limiter, acquire, grants } = setup({ t: { perSecond: 1 } });
    await acquire({ platform: 't', lane: 'broadcast' }, 'first');
    const { ctl, ctx } = jobCtx();
    const outcome = runInJobContext(ctx, () => limiter.acquire({ platform: 't', lane: 'broadcast' })).then(
      () => 'granted',
      (err: unknown) => (err instanceof YieldedError ? 'yielded' : 'other'),
    );
    const other = acquire({ platform: 't', lane: 'reminder' }, 'reminder');
    await flush();
    expect(limiter.pending).toBe(2);
    expect(ctx.waiting).toBe(1);
    ctl.abort();
    expect(await outcome).toBe('yielded');
    expect(ctx).toMatchObject({ granted: false, yielded: true, waiting: 0 });
    expect(limiter.pending).toBe(1);
    // The yielded call took no slot: the reminder has the next one, and nothing else is granted.
    await clock.advance(1000);
    await other;
    await clock.advance(5000);
    await flush();
    expect(grants.map((g) => g.label)).toEqual(['first', 'reminder']);
    // Asked again after the abort, a call of that job is turned away at once.
    await expect(runInJobContext(ctx, () => limiter.acquire({ platform: 't', lane: 'broadcast' }))).rejects.toBeInstanceOf(YieldedError);
  });

  it('a granted call marks its job; a job that made a call is never turned away, nor is a call made outside any job', async () => {
    const { clock, limiter } = setup({ t: { perSecond: 1 } });
    const { ctl, ctx } = jobCtx();
    await runInJobContext(ctx, () => limiter.acquire({ platform: 't', lane: 'broadcast' }));
    expect(ctx.granted).toBe(true);
    const second = runInJobContext(ctx, () => limiter.acquire({ platform: 't', lane: 'broadcast' }));
    const outside = limiter.acquire({ platform: 't', lane: 'broadcast' });
    ctl.abort();
    await clock.advance(1000);
    await second;
    await clock.advance(1000);
    await outside;
    expect(ctx).toMatchObject({ granted: true, yielded: false, waiting: 0 });
  });
});
