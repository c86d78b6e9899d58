import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AGClientSocket } from 'socketcluster-client';
import type { PresenceModuleOptions } from '../../src/index.js';
import {
  BACKENDS, databaseOptions, dropTables, eventually, fastOptions, sleep, startPresenceApp, type Backend, type PresenceApp,
} from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { HookRecorder } from '../support/hook-recorder.js';

const GRACE_MS = 800;
/** Short periods, so that the GC's sweep of abandoned statuses runs many times within a test. */
const TIMINGS: PresenceModuleOptions = {
  offlineGraceMs: GRACE_MS,
  socketcluster: { pingInterval: 100, pingTimeout: 2000 },
  heartbeat: { pingsPerUpdate: 2 },
  gc: { intervalMs: 100, thresholdMs: 1000 },
};
/** Long enough for a grace timer, the GC sweep and a second sweep to have had their turn. */
const SETTLE_MS = GRACE_MS + 200 * 2 + 100 * 5;

/*
 * The last instance stops (app.close(): what SIGTERM runs with enableShutdownHooks) while its users are in
 * their offline grace, so nobody is left to end it. The next instance to start is a cold start and must
 * still give each of those users exactly one offline hook.
 */
describe.each(BACKENDS)('the last instance stops during the offline grace (%s)', (backend: Backend) => {
  const apps: PresenceApp[] = [];
  const sockets: AGClientSocket[] = [];
  let dir: string | undefined;
  let shared: PresenceModuleOptions;

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    for (const app of apps.splice(0)) await app.close();
    if (backend === 'mariadb' && shared.tableName) await dropTables(shared.tableName);
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** One table (on SQLite: one file) for every instance of the test. */
  const prepare = () => {
    if (backend === 'sqlite') dir = mkdtempSync(join(tmpdir(), 'scp-grace-'));
    const database = databaseOptions(backend, dir && join(dir, 'presence.sqlite'));
    shared = { ...fastOptions(backend, TIMINGS), database };
  };

  const instance = async (extra: PresenceModuleOptions = {}) => {
    const app = await startPresenceApp({ ...shared, ...extra }, { providers: [HookRecorder] });
    apps.push(app);
    return { app, hooks: app.app.get(HookRecorder) };
  };

  const connect = async (app: PresenceApp, userId: string) => {
    const socket = await connectClient(app.port, app.server, { token: { user_id: userId } });
    sockets.push(socket);
    return socket;
  };

  const statusRows = async (app: PresenceApp) =>
    Object.fromEntries(
      (await app.sql<{ u: string; s: string }>(`SELECT SCP_user_id AS u, SCP_status AS s FROM ${app.table}_status ORDER BY SCP_user_id`)).map(
        (r) => [r.u, r.s],
      ),
    );

  /** The last instance, with `users` online, stopped: their status rows still say online. */
  const stopDuringGrace = async (users: string[]) => {
    const first = await instance();
    for (const userId of users) await connect(first.app, userId);
    await eventually(() => expect(first.hooks.userLines().sort()).toEqual(users.map((u) => `user.online:${u}:connect`).sort()));
    await first.app.close();
    expect(first.hooks.userLines().filter((line) => line.startsWith('user.offline'))).toEqual([]);
  };

  it('the next start gives each of its users one offline hook when their grace ends, and no more', async () => {
    prepare();
    await stopDuringGrace(['alice', 'bob']);
    const next = await instance();
    expect(next.hooks.events[0]).toEqual({ type: 'cleanup', at: expect.any(Date) });
    expect(await next.app.presence.getUserStatus('alice')).toBe('online'); // still within the grace
    await eventually(() => expect(next.hooks.userLines().sort()).toEqual(['user.offline:alice:cleanup', 'user.offline:bob:cleanup']), 10_000);
    await sleep(SETTLE_MS);
    expect(next.hooks.userLines().sort()).toEqual(['user.offline:alice:cleanup', 'user.offline:bob:cleanup']);
    expect(await statusRows(next.app)).toEqual({ alice: 'offline', bob: 'offline' });
  });

  it('a user who comes back within the grace gets no hook at all, and one offline when they leave', async () => {
    prepare();
    await stopDuringGrace(['carol', 'dave']);
    const next = await instance();
    const back = await connect(next.app, 'carol');
    await eventually(async () => expect(await next.app.presence.getUserSessions('carol')).toHaveLength(1));
    await eventually(() => expect(next.hooks.userLines()).toEqual(['user.offline:dave:cleanup']), 10_000);
    await sleep(SETTLE_MS);
    expect(next.hooks.userLines()).toEqual(['user.offline:dave:cleanup']);
    expect(await statusRows(next.app)).toEqual({ carol: 'online', dave: 'offline' });

    back.disconnect();
    await eventually(() => expect(next.hooks.userLines()).toEqual(['user.offline:dave:cleanup', 'user.offline:carol:disconnect']), 10_000);
    await sleep(SETTLE_MS);
    expect(next.hooks.userLines()).toEqual(['user.offline:dave:cleanup', 'user.offline:carol:disconnect']);
  });

  it('a start after the grace has ended takes them offline in the cold start itself (no GC needed)', async () => {
    prepare();
    await stopDuringGrace(['erin']);
    await sleep(GRACE_MS + 50);
    const next = await instance({ gc: { enabled: false } });
    // The cold start's commit is applied before app.init() resolves: cleanup first, then the offline hook.
    expect(next.hooks.events.map((e) => e.type)).toEqual(['cleanup', 'user.offline']);
    expect(next.hooks.userLines()).toEqual(['user.offline:erin:cleanup']);
    await sleep(SETTLE_MS);
    expect(next.hooks.userLines()).toEqual(['user.offline:erin:cleanup']);
    expect(await statusRows(next.app)).toEqual({ erin: 'offline' });
  });

  it.runIf(backend === 'mariadb')('not the last instance: the GC leader ends the grace, once, for the users who did not come back', async () => {
    prepare();
    const survivor = await instance();
    const stopping = await instance();
    for (const userId of ['ivy', 'jon']) await connect(stopping.app, userId);
    await eventually(() => expect(stopping.hooks.userLines().sort()).toEqual(['user.online:ivy:connect', 'user.online:jon:connect']));
    await stopping.app.close();
    await connect(survivor.app, 'jon'); // reconnects elsewhere within the grace, as in a rolling deploy
    await eventually(() => expect(survivor.hooks.userLines()).toEqual(['user.offline:ivy:cleanup']), 10_000);
    await sleep(SETTLE_MS);
    expect([...stopping.hooks.userLines(), ...survivor.hooks.userLines()].filter((line) => line.startsWith('user.offline'))).toEqual([
      'user.offline:ivy:cleanup',
    ]);
    expect(await statusRows(survivor.app)).toEqual({ ivy: 'offline', jon: 'online' });
  });

  it.runIf(backend === 'mariadb')('two instances starting at once: one offline hook per user between them', async () => {
    prepare();
    const users = ['fay', 'gus', 'hal'];
    await stopDuringGrace(users);
    const both = await Promise.all([instance(), instance()]);
    const lines = () => both.flatMap((b) => b.hooks.userLines()).sort();
    const cleanups = () => both.flatMap((b) => b.hooks.events.filter((e) => e.type === 'cleanup'));
    await eventually(() => expect(lines()).toEqual(users.map((u) => `user.offline:${u}:cleanup`)), 10_000);
    await sleep(SETTLE_MS);
    expect(lines()).toEqual(users.map((u) => `user.offline:${u}:cleanup`));
    expect(cleanups()).toHaveLength(1);
    expect(await statusRows(both[0].app)).toEqual({ fay: 'offline', gus: 'offline', hal: 'offline' });
  });
});
