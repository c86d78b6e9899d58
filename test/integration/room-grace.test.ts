import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AGClientSocket } from 'socketcluster-client';
import type { PresenceModuleOptions } from '../../src/index.js';
import {
  BACKENDS, databaseOptions, dropTables, eventually, fastOptions, sleep, startPresenceApp, type Backend, type PresenceApp,
} from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';
import { observeExchange, type ExchangeObserver } from '../support/usercount-observer.js';
import type { ChannelDiff as Diff } from '../../src/index.js';

const ROOM = 'room:1';
/** Long enough that a reconnect and a subscribe fit in it on a loaded machine. */
const GRACE_MS = 2500;
/** Short periods, so that the GC sweep runs many times within a test. */
const TIMINGS: PresenceModuleOptions = {
  channelPresence: { channels: /^room:/ },
  offlineGraceMs: GRACE_MS,
  socketcluster: { pingInterval: 100, pingTimeout: 2000 },
  heartbeat: { pingsPerUpdate: 2 },
  gc: { intervalMs: 100, thresholdMs: 1000 },
};
/** Long enough for the grace timer, and for the GC sweep after it (grace + heartbeat period) to have had its turn. */
const SETTLE_MS = GRACE_MS + 200 * 2 + 100 * 5;

/*
 * With an offline grace, a page reload (the socket closes, a new one connects and subscribes again within the
 * grace) must not show in the room; a socket that does not come back is one leave when the grace ends; an
 * unsubscribe is a leave at once. Diffs are read off each instance's own exchange: every diff is published by
 * the instance that committed it.
 */
describe.each(BACKENDS)('reconnect grace for channel presence (%s)', (backend: Backend) => {
  const apps: PresenceApp[] = [];
  const observers: ExchangeObserver[] = [];
  const sockets: AGClientSocket[] = [];
  let dir: string | undefined;
  let shared: PresenceModuleOptions;

  afterEach(async () => {
    for (const observer of observers.splice(0)) observer.stop();
    await disconnectAll(...sockets.splice(0));
    for (const app of apps.splice(0)) await app.close();
    if (backend === 'mariadb' && shared.tableName) await dropTables(shared.tableName);
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** One table (on SQLite: one file) for every instance of the test. */
  const prepare = (extra: PresenceModuleOptions = {}) => {
    if (backend === 'sqlite') dir = mkdtempSync(join(tmpdir(), 'scp-room-grace-'));
    shared = { ...fastOptions(backend, { ...TIMINGS, ...extra }), database: databaseOptions(backend, dir && join(dir, 'presence.sqlite')) };
  };

  const instance = async () => {
    const app = await startPresenceApp(shared);
    apps.push(app);
    const observer = observeExchange(app.server, `presence:${ROOM}`);
    observers.push(observer);
    return app;
  };

  /** The diffs about `userId`, from every instance, in seq order. */
  const diffsOf = (userId: string) =>
    observers
      .flatMap((o) => o.values() as Diff[])
      .sort((a, b) => a.seq - b.seq)
      .map((d) => ({
        joins: d.joins.filter((m) => m.userId === userId).length,
        leaves: d.leaves.filter((m) => m.userId === userId).length,
        updates: d.updates.filter((m) => m.userId === userId).length,
      }))
      .filter((d) => d.joins + d.leaves + d.updates > 0);

  const inRoom = async (app: PresenceApp, userId: string) => {
    const socket = await connectClient(app.port, app.server, { token: { user_id: userId } });
    sockets.push(socket);
    await subscribe(socket, ROOM);
    return socket;
  };

  const members = async (app: PresenceApp) =>
    (await app.sql<{ u: string }>(`SELECT SCP_user_id AS u FROM ${app.table}_members WHERE SCP_channel = ? ORDER BY SCP_user_id`, [ROOM])).map(
      (r) => r.u,
    );

  it('a reload within the grace (close, connect, subscribe again) is no diff at all, during the grace or after it', async () => {
    prepare();
    const app = await instance();
    const first = await inRoom(app, 'ada');
    await eventually(() => expect(diffsOf('ada')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]));
    first.disconnect();
    await sleep(100);
    await inRoom(app, 'ada');
    await sleep(SETTLE_MS);
    expect(diffsOf('ada')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
    expect(await members(app)).toEqual(['ada']);
  });

  it('a socket that does not come back is exactly one leave, once the grace is over', async () => {
    prepare();
    const app = await instance();
    const socket = await inRoom(app, 'bea');
    await inRoom(app, 'stays');
    await eventually(() => expect(diffsOf('bea')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]));
    const closed = Date.now();
    socket.disconnect();
    // Still a member for the grace: in the snapshot's table, and no leave yet.
    await sleep(GRACE_MS / 2);
    expect(diffsOf('bea')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
    expect(await members(app)).toEqual(['bea', 'stays']);
    await eventually(() => expect(diffsOf('bea')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]), GRACE_MS + 5000);
    expect(Date.now() - closed).toBeGreaterThanOrEqual(GRACE_MS);
    await sleep(SETTLE_MS);
    expect(diffsOf('bea')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]);
    expect(await members(app)).toEqual(['stays']);
  });

  it('a socket that unsubscribes and stays connected is a leave at once', async () => {
    // A grace far longer than the wait below: the leave can only come from the unsubscribe itself.
    prepare({ offlineGraceMs: 20_000 });
    const app = await instance();
    const socket = await inRoom(app, 'cai');
    await eventually(() => expect(diffsOf('cai')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]));
    socket.unsubscribe(ROOM);
    await eventually(() => expect(diffsOf('cai')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]), GRACE_MS + 5000);
    expect(await members(app)).toEqual([]);
  });

  it('a user who also has a tab outside the room keeps the room through a reload of the tab in it', async () => {
    prepare();
    const app = await instance();
    const outside = await connectClient(app.port, app.server, { token: { user_id: 'dov' } });
    sockets.push(outside);
    const tab = await inRoom(app, 'dov');
    await eventually(() => expect(diffsOf('dov')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]));
    tab.disconnect();
    await sleep(100);
    await inRoom(app, 'dov');
    await sleep(SETTLE_MS);
    expect(diffsOf('dov')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
    // And without coming back, one leave after the grace, though the user stays online.
    const again = (await app.presence.getUserSessions('dov')).find((s) => s.channels.includes(ROOM))!;
    (app.server.clients[again.socketId] as unknown as { disconnect(): void }).disconnect();
    await eventually(() => expect(diffsOf('dov')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]), GRACE_MS + 5000);
    expect(await app.presence.getUserStatus('dov')).toBe('online');
  });

  it('counts a reconnect on another instance: no diff on either', async () => {
    prepare();
    const a = await instance();
    const b = await instance();
    const first = await inRoom(a, 'eli');
    await eventually(() => expect(diffsOf('eli')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]));
    first.disconnect();
    await sleep(100);
    await inRoom(b, 'eli');
    await sleep(SETTLE_MS);
    expect(diffsOf('eli')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
    expect(await members(b)).toEqual(['eli']);
  });

  it('an instance that stops holds its members for the grace; the GC sweep decides those that do not come back', async () => {
    prepare();
    const a = await instance();
    const b = await instance();
    await inRoom(a, 'fay');
    await inRoom(a, 'gus');
    await eventually(() => {
      expect(diffsOf('fay')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
      expect(diffsOf('gus')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
    });
    // A rolling deploy: a stops, fay reconnects to b within the grace, gus does not come back.
    await a.close();
    await inRoom(b, 'fay');
    await eventually(() => expect(diffsOf('gus')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]), GRACE_MS + 5000);
    await sleep(SETTLE_MS);
    expect(diffsOf('fay')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]);
    expect(diffsOf('gus')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]);
    expect(await members(b)).toEqual(['fay']);
  });

  it('without a grace, a reload is a leave and a join, as before', async () => {
    prepare({ offlineGraceMs: 0 });
    const app = await instance();
    const first = await inRoom(app, 'hal');
    await eventually(() => expect(diffsOf('hal')).toEqual([{ joins: 1, leaves: 0, updates: 0 }]));
    first.disconnect();
    await eventually(() => expect(diffsOf('hal')).toEqual([{ joins: 1, leaves: 0, updates: 0 }, { joins: 0, leaves: 1, updates: 0 }]));
    await inRoom(app, 'hal');
    await eventually(() => expect(diffsOf('hal')).toHaveLength(3));
  });
});
