import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AGServerSocket } from 'socketcluster-server';
import { LiveSessions } from '../../src/tracker/live-sessions.registry.js';
import { PresenceWriter } from '../../src/tracker/presence.writer.js';

/** A writer over a store whose writes fail while `down`, with `sockets` open sockets s1, s2, …. */
function writer(sockets = 1) {
  const state = { down: true, writes: 0, writtenAt: [] as number[] };
  const store = {
    write: async () => {
      state.writes++;
      state.writtenAt.push(Date.now());
      if (state.down) throw new Error('connect ETIMEDOUT');
      return { changes: [], deferred: [], channels: [], ghosts: 0 };
    },
  };
  const effects = { apply: async () => undefined };
  const options = { flushIntervalMs: 20, channelPresence: false, offlineGraceMs: 0, userIdField: 'user_id', presenceChannel: '#presence', storeAuthToken: false };
  const sessions = new LiveSessions();
  const w = new PresenceWriter({ options } as never, store as never, sessions, { id: 'i1' } as never, effects as never);
  (w as unknown as { logger: object }).logger = { warn: () => undefined, log: () => undefined, error: () => undefined };
  for (let i = 1; i <= sockets; i++) {
    const socket = { id: `s${i}`, authToken: { user_id: `u${i}` }, state: 'open', OPEN: 'open', remoteAddress: '127.0.0.1', request: { headers: {} }, subscriptions: () => [] };
    sessions.add(socket as unknown as AGServerSocket);
  }
  return { w, state };
}

describe('PresenceWriter, calls waiting on a write that fails', () => {
  it('keeps every waiter of a failed flush, however many, and resolves them all once a write succeeds', async () => {
    const { w, state } = writer();
    w.touch('s1');
    // More waiters than a function call takes arguments: a spread of them into unshift() overflowed the stack.
    const waiting = Array.from({ length: 300_000 }, () => w.written());
    let resolved = 0;
    for (const p of waiting) void p.then(() => resolved++);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state.writes).toBeGreaterThan(0);
    expect(resolved).toBe(0);

    state.down = false;
    await Promise.all(waiting);
    expect(resolved).toBe(300_000);
    w.stop();
  });
});

describe('PresenceWriter, how long a change waits for its flush', () => {
  afterEach(() => vi.useRealTimers());

  /**
   * Touches `perTick` sockets every 5 ms from t = 0 (changes never pause for an interval), the first of them a
   * leave at `leaveAt` if given; returns when the first flush started.
   */
  function stream(leaveAt?: number, perTick = 1) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    const { w, state } = writer(perTick * 60);
    state.down = false;
    let next = 1;
    for (let t = 0; t <= 300 && state.writtenAt.length === 0; t += 5) {
      for (let i = 0; i < perTick; i++) w.touch(`s${next++}`, t === leaveAt && i === 0);
      vi.advanceTimersByTime(5);
    }
    w.stop();
    return state.writtenAt[0];
  }

  it('starts after 3 intervals for joins, after 2 from a leave', () => {
    expect(stream()).toBe(60);
    expect(stream(10)).toBe(50);
  });

  it('lets the joins of a storm wait 10 intervals for a larger batch, but never a leave', () => {
    // 5 sockets every 5 ms: STORM_SOCKETS (50) are waiting from t = 45 on.
    expect(stream(undefined, 5)).toBe(200);
    expect(stream(10, 5)).toBe(50);
  });

  it('starts at once when a full batch is waiting', () => {
    // 1000 sockets every 5 ms: MAX_FLUSH_SOCKETS (2000) are waiting at t = 5, with the second thousand.
    expect(stream(undefined, 1000)).toBe(5);
  });
});
