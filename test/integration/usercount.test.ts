import { describe, expect, it } from 'vitest';
import { holdTimer } from '../support/held-timer.js';
import type { PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type Backend, type PresenceApp } from '../support/presence-app.js';
import { collect, connectClient, disconnectAll, subscribe, type ClientOptions } from '../support/clients.js';
import { observeExchange, type ExchangeObserver } from '../support/usercount-observer.js';

describe.each(BACKENDS)('user count (%s)', (backend: Backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  const start = async (extra: PresenceModuleOptions = {}) => {
    ctx = await bed.start(extra);
    return ctx;
  };

  const connect = async (options: ClientOptions = {}) => {
    const socket = await connectClient(ctx!.port, ctx!.server, options);
    bed.track(socket);
    return socket;
  };

  const observe = (channel?: string) => {
    const observer = observeExchange(ctx!.server, channel);
    bed.onCleanup(() => observer.stop());
    return observer;
  };

  /** Sockets whose presence row is stored: the writer has flushed every connect and disconnect so far. */
  const storedSockets = async () => {
    const [row] = await ctx!.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${ctx!.table} WHERE SCP_channel = '_SCPRESENCE'`);
    return Number(row.n);
  };

  /** Waits for `read()` to equal `expected` and checks that it still does a little later (no later correction). */
  const settlesAt = async (read: () => unknown, expected: number) => {
    await eventually(() => expect(read()).toBe(expected));
    await sleep(150);
    expect(read()).toBe(expected);
  };

  it("'users' counts distinct user ids once and every anonymous socket as one user", async () => {
    await start();
    const watcher = await connect({ token: { user_id: 'watcher' } });
    const counts = collect<number>(watcher, 'USERCOUNT');
    await counts.ready();

    const tab1 = await connect({ token: { user_id: 'alice' } });
    const tab2 = await connect({ token: { user_id: 'alice' } });
    await eventually(async () => expect(await storedSockets()).toBe(3));
    await settlesAt(counts.last, 2); // watcher + alice (two tabs)

    const anon1 = await connect();
    await connect();
    await eventually(async () => expect(await storedSockets()).toBe(5));
    await settlesAt(counts.last, 4); // + 2 anonymous sockets
    expect(await ctx!.presence.count('users')).toBe(4);

    tab1.disconnect();
    await eventually(async () => expect(await storedSockets()).toBe(4));
    await settlesAt(counts.last, 4); // alice still has a tab
    tab2.disconnect();
    anon1.disconnect();
    await settlesAt(counts.last, 2);
    expect(counts.received.every((n) => Number.isInteger(n))).toBe(true);
  });

  it("'sockets' counts every socket, two tabs of one user included", async () => {
    await start({ usercount: { type: 'sockets' } });
    const watcher = await connect({ token: { user_id: 'watcher' } });
    const counts = collect<number>(watcher, 'USERCOUNT');
    await counts.ready();

    await connect({ token: { user_id: 'bob' } });
    await connect({ token: { user_id: 'bob' } });
    const anon = await connect();
    await settlesAt(counts.last, 4);

    anon.disconnect();
    await settlesAt(counts.last, 3);
    expect(await ctx!.presence.count('sockets')).toBe(3);
  });

  it("'subscriptions' counts channel subscriptions and not the presence rows", async () => {
    await start({ usercount: { type: 'subscriptions' } });
    const watcher = await connect({ token: { user_id: 'watcher' } });
    const counts = collect<number>(watcher, 'USERCOUNT'); // itself a subscription
    await counts.ready();

    const member = await connect({ token: { user_id: 'carol' } });
    await subscribe(member, 'room:a');
    await subscribe(member, 'room:b');
    await settlesAt(counts.last, 3);
    // The table holds 5 rows: 2 presence rows are not subscriptions.
    const [all] = await ctx!.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${ctx!.table}`);
    expect(Number(all.n)).toBe(5);

    member.unsubscribe('room:a');
    await settlesAt(counts.last, 2);
    member.disconnect();
    await settlesAt(counts.last, 1);
  });

  it('publishes the drop to 0', async () => {
    await start();
    const observer = observe();
    const socket = await connect({ token: { user_id: 'dave' } });
    await eventually(() => expect(observer.last()).toBe(1));

    socket.disconnect();
    await eventually(() => expect(observer.last()).toBe(0));
    expect(observer.values()).toEqual([1, 0]);
  });

  it('waits connectDelayMs after a connect, then publishes once', async () => {
    await start({ usercount: { connectDelayMs: 400 } });
    const observer = observe();
    const before = Date.now();
    await connect({ token: { user_id: 'erin' } });

    await sleep(Math.max(0, before + 200 - Date.now()));
    expect(observer.received).toEqual([]);

    await eventually(() => expect(observer.values()).toEqual([1]), 3000);
    expect(observer.received[0].at - before).toBeGreaterThanOrEqual(390);
    await sleep(300);
    expect(observer.values()).toEqual([1]);
  });

  it('does not hold a leave back for connectDelayMs because the socket went idle just before', async () => {
    await start({ usercount: { connectDelayMs: 2000 } });
    const observer = observe();
    const socket = await connect({ token: { user_id: 'fern' } });
    await eventually(() => expect(observer.values()).toEqual([1]), 5000);
    await socket.invoke('presence.setStatus', 'idle'); // a status change moves no count
    const left = Date.now();
    socket.disconnect();
    await eventually(() => expect(observer.values()).toEqual([1, 0]), 5000);
    expect(observer.received[1].at - left).toBeLessThan(1000);
  });

  it('publishes nothing during startupQuietMs, then one catch-up with the current count', async () => {
    // The quiet period ends when the test says so, not when the clock does: a loaded machine cannot make the
    // joins below spill past it. Only the publisher's quiet timer has this delay.
    const quietMs = 3_600_000;
    const quiet = holdTimer(quietMs);
    try {
      await start({ usercount: { startupQuietMs: quietMs } });
    } finally {
      quiet.restore();
    }
    const observer = observe();

    // Joins and leaves during the quiet period.
    const a = await connect({ token: { user_id: 'a' } });
    await connect({ token: { user_id: 'b' } });
    await eventually(async () => expect(await storedSockets()).toBe(2));
    a.disconnect();
    await connect({ token: { user_id: 'c' } });
    await connect();
    await eventually(async () => expect(await storedSockets()).toBe(3));
    await sleep(100); // a publish would have been sent by now (connectDelayMs is 0)
    expect(observer.received).toEqual([]);

    const ended = Date.now();
    quiet.fire();
    await eventually(() => expect(observer.values()).toEqual([3]), 5000);
    expect(observer.received[0].at).toBeGreaterThanOrEqual(ended);
    await sleep(300);
    expect(observer.values()).toEqual([3]);
  });

  it('publishes a burst of 20 connects once, not 20 times, and the 20 disconnects once too', async () => {
    await start({ flushIntervalMs: 20, usercount: { connectDelayMs: 200 } });
    const observer = observe();
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => connect({ token: { user_id: `burst-${i}` } })));

    await eventually(() => expect(observer.last()).toBe(20), 5000);
    await sleep(500);
    const afterJoins = observer.received.length;
    expect(afterJoins).toBeGreaterThanOrEqual(1);
    expect(afterJoins).toBeLessThanOrEqual(2);
    expect(observer.last()).toBe(20);

    await disconnectAll(...burst);
    await eventually(() => expect(observer.last()).toBe(0), 5000);
    await sleep(500);
    const leaves = observer.values().slice(afterJoins);
    expect(leaves.length).toBeLessThanOrEqual(2);
    expect(leaves[leaves.length - 1]).toBe(0);
  });

  it('publishes on a custom channel, and nothing on USERCOUNT', async () => {
    await start({ usercount: { channel: 'online-now', type: 'sockets' } });
    const onDefault = observe('USERCOUNT');
    const watcher = await connect();
    const counts = collect<number>(watcher, 'online-now');
    await counts.ready();

    await connect({ token: { user_id: 'frank' } });
    await settlesAt(counts.last, 2);
    expect(onDefault.received).toEqual([]);
  });

  it('publishes nothing with usercount: false', async () => {
    await start({ usercount: false });
    const observer = observe();
    const watcher = await connect();
    const counts = collect<number>(watcher, 'USERCOUNT');
    await counts.ready();

    const other = await connect({ token: { user_id: 'gina' } });
    await subscribe(other, 'room');
    await eventually(async () => expect(await storedSockets()).toBe(2));
    other.disconnect();
    await eventually(async () => expect(await storedSockets()).toBe(1));
    await sleep(300);
    expect(observer.received).toEqual([]);
    expect(counts.received).toEqual([]);
  });
});
