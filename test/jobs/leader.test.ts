// The Leader (issue 13 part 11) against a hand-written fake of the LeaderLock port, in virtual time:
// it starts the thing only while holding the lock, stops it the moment the lock is lost, retries on
// the clock, and lets go on stop.
import { describe, expect, it } from 'vitest';
import { Leader, type LeaderLock } from '../../src/jobs/leader.ts';
import { FakeClock, flush } from '../fakes/fake-clock.ts';
import { memoryLogger } from '../helpers/service.ts';

/** One lock shared by several instances, like an advisory lock in one database. */
class FakeLockServer {
  owner: string | null = null;
  handle(id: string): LeaderLock & { kill(): void } {
    const lostListeners: Array<() => void> = [];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the returned object's methods need the server
    const server = this;
    return {
      async tryAcquire() {
        if (server.owner === null) server.owner = id;
        return server.owner === id;
      },
      async holder() {
        return server.owner;
      },
      onLost(l) {
        lostListeners.push(l);
      },
      async release() {
        if (server.owner === id) server.owner = null;
      },
      kill() {
        if (server.owner !== id) return;
        server.owner = null;
        for (const l of lostListeners) l();
      },
    };
  }
}

function instance(server: FakeLockServer, clock: FakeClock, id: string) {
  const lock = server.handle(id);
  const events: string[] = [];
  const leader = new Leader({
    name: 'wechat',
    lock,
    clock,
    logger: memoryLogger(),
    instanceId: id,
    retryMs: 15_000,
    lead: async () => void events.push('start'),
    follow: async () => void events.push('stop'),
  });
  return { lock, leader, events };
}

describe('Leader', () => {
  it('runs on one instance; a lost lock stops it at once; another takes over on its next try; stop lets go', async () => {
    const clock = new FakeClock();
    const server = new FakeLockServer();
    const a = instance(server, clock, 'a');
    const b = instance(server, clock, 'b');
    a.leader.start();
    await flush();
    b.leader.start();
    await flush();
    expect([a.leader.isLeader, b.leader.isLeader]).toEqual([true, false]);
    expect(a.events).toEqual(['start']);
    expect(b.leader.health()).toEqual({ instance: 'b', runsHere: false, holder: 'a' });
    expect(a.leader.health()).toEqual({ instance: 'a', runsHere: true, holder: 'a' });

    a.lock.kill();
    await flush();
    expect(a.events).toEqual(['start', 'stop']);
    expect(a.leader.isLeader).toBe(false);

    // Whoever tries first takes it (b, whose round comes first here); never both.
    await clock.advance(15_000);
    expect([a.leader.isLeader, b.leader.isLeader].filter(Boolean)).toHaveLength(1);
    const [holder, other] = a.leader.isLeader ? [a, b] : [b, a];
    await clock.advance(15_000);
    expect(other.leader.health().holder).toBe(holder.leader.health().instance);

    await holder.leader.stop();
    expect(holder.events.at(-1)).toBe('stop');
    expect(server.owner).toBeNull();
    await clock.advance(15_000);
    expect(other.leader.isLeader).toBe(true);
    expect(other.events.at(-1)).toBe('start');
    await other.leader.stop();
    expect(server.owner).toBeNull();
  });

  it('an unreachable database is "not held": nothing starts, and the loop keeps trying', async () => {
    const clock = new FakeClock();
    let reachable = false;
    const events: string[] = [];
    const lock: LeaderLock = {
      tryAcquire: async () => reachable,
      holder: async () => {
        throw new Error('connection refused');
      },
      onLost: () => {},
      release: async () => {},
    };
    const leader = new Leader({
      name: 'wechat',
      lock,
      clock,
      logger: memoryLogger(),
      instanceId: 'x',
      retryMs: 20_000,
      lead: async () => void events.push('start'),
      follow: async () => void events.push('stop'),
    });
    leader.start();
    await flush();
    expect(events).toEqual([]);
    expect(leader.health().holder).toBeNull();
    reachable = true;
    await clock.advance(20_000);
    expect(events).toEqual(['start']);
    await leader.stop();
    expect(events).toEqual(['start', 'stop']);
  });
});
