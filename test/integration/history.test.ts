import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AGClientSocket } from 'socketcluster-client';
import { PresenceError, type PresenceModuleOptions, type SessionHistoryEntry } from '../../src/index.js';
import {
  BACKENDS, databaseOptions, dropTables, eventually, fastOptions, sleep, startPresenceApp, type Backend, type PresenceApp,
} from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import { PresenceStore } from '../../src/store/presence.store.js';
import { fromSqlTime, toSqlTime } from '../../src/store/sql.dialect.js';

const ago = (ms: number) => new Date(Date.now() - ms);

/** Heartbeat every 200 ms, GC every 100 ms, rows older than 1 s are abandoned. */
const GC_TIMINGS: PresenceModuleOptions = {
  socketcluster: { pingInterval: 100, pingTimeout: 2000 },
  heartbeat: { pingsPerUpdate: 2 },
  gc: { intervalMs: 100, thresholdMs: 1000 },
};
const HISTORY: PresenceModuleOptions = { history: { retentionMs: 60 * 60_000 } };

type HistoryRow = {
  SCP_socket_id: string; SCP_user_id: string | null; SCP_connected: string | Date; SCP_disconnected: string | Date; SCP_reason: string;
  SCP_instance_id: string;
};

const SOCKET_COLUMNS = [
  'SCP_socket_id', 'SCP_user_id', 'SCP_channel', 'SCP_updated', 'SCP_authToken', 'SCP_ip', 'SCP_origin',
  'SCP_instance_id', 'SCP_status', 'SCP_connected',
];
const HISTORY_COLUMNS = ['SCP_socket_id', 'SCP_user_id', 'SCP_connected', 'SCP_disconnected', 'SCP_reason', 'SCP_instance_id'];

describe.each(BACKENDS)('session history (%s)', (backend: Backend) => {
  const apps: PresenceApp[] = [];
  const sockets: AGClientSocket[] = [];
  let dir: string | undefined;
  let shared: PresenceModuleOptions;

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    for (const app of apps.splice(0)) await app.close();
    if (backend === 'mariadb' && shared?.tableName) await dropTables(shared.tableName);
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** One table (on SQLite: one file) for every instance of the test, so that it outlives an app. */
  const prepare = (extra: PresenceModuleOptions = {}) => {
    if (backend === 'sqlite') dir = mkdtempSync(join(tmpdir(), 'scp-history-'));
    const database = databaseOptions(backend, dir && join(dir, 'presence.sqlite'));
    shared = { ...fastOptions(backend, { ...HISTORY, ...extra }), database };
  };

  const start = async (extra: PresenceModuleOptions = {}) => {
    const app = await startPresenceApp({ ...shared, ...extra });
    apps.push(app);
    return app;
  };

  const connect = async (app: PresenceApp, userId: string | null) => {
    const socket = await connectClient(app.port, app.server, userId === null ? {} : { token: { user_id: userId } });
    sockets.push(socket);
    return socket;
  };

  const sessions = async (app: PresenceApp) => app.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${app.table} WHERE SCP_channel = '_SCPRESENCE'`);
  const liveSessions = async (app: PresenceApp) => Number((await sessions(app))[0].n);
  const history = (app: PresenceApp, where = '1 = 1', params: unknown[] = []) =>
    app.sql<HistoryRow>(`SELECT ${HISTORY_COLUMNS.join(', ')} FROM ${app.table}_history WHERE ${where} ORDER BY SCP_id`, params);
  const instanceOf = async (app: PresenceApp) =>
    (await app.sql<{ id: string }>(`SELECT SCP_instance_id AS id FROM ${app.table}_instances ORDER BY SCP_started DESC LIMIT 1`))[0].id;

  /** Rows as a crashed instance leaves them: presence rows last refreshed `updated`, each with one channel row. */
  const insertSockets = async (app: PresenceApp, instanceId: string, users: Array<string | null>, updated: Date, connected: Date) => {
    const rows: unknown[][] = [];
    const socketIds: string[] = [];
    for (const userId of users) {
      const socketId = randomUUID();
      socketIds.push(socketId);
      for (const channel of ['_SCPRESENCE', 'room']) {
        rows.push([socketId, userId, channel, toSqlTime(updated), null, '10.0.0.9', null, instanceId, 'online', toSqlTime(connected)]);
      }
    }
    await app.sql(
      `INSERT INTO ${app.table} (${SOCKET_COLUMNS.join(', ')}) VALUES ${rows.map(() => `(${SOCKET_COLUMNS.map(() => '?').join(', ')})`).join(', ')}`,
      rows.flat(),
    );
    return socketIds;
  };

  const insertLease = (app: PresenceApp, instanceId: string, heartbeat: Date) =>
    app.sql(
      `INSERT INTO ${app.table}_instances (SCP_instance_id, SCP_host, SCP_pid, SCP_started, SCP_heartbeat) VALUES (?, 'dead-host', 1, ?, ?)`,
      [instanceId, toSqlTime(ago(60 * 60_000)), toSqlTime(heartbeat)],
    );

  it('records each ended session once: a disconnect, an anonymous one, and the sessions a shutdown ends', async () => {
    prepare();
    const app = await start();
    const instanceId = await instanceOf(app);
    const first = await connect(app, 'alice');
    const second = await connect(app, 'alice');
    const anonymous = await connect(app, null);
    // Read now: a client socket forgets its id once it is disconnected.
    const [firstId, secondId, anonymousId] = [first.id, second.id, anonymous.id];
    await eventually(async () => expect(await liveSessions(app)).toBe(3));
    const connectedBy = new Date();
    first.disconnect();
    anonymous.disconnect();
    await eventually(async () => expect(await liveSessions(app)).toBe(1));
    const ended = await history(app);
    expect(ended.map((r) => [r.SCP_socket_id, r.SCP_user_id, r.SCP_reason, r.SCP_instance_id]).sort()).toEqual(
      [[firstId, 'alice', 'disconnect', instanceId], [anonymousId, null, 'disconnect', instanceId]].sort(),
    );
    for (const row of ended) {
      expect(fromSqlTime(row.SCP_connected).getTime()).toBeLessThanOrEqual(connectedBy.getTime());
      expect(fromSqlTime(row.SCP_disconnected).getTime()).toBeGreaterThanOrEqual(fromSqlTime(row.SCP_connected).getTime());
      expect(fromSqlTime(row.SCP_disconnected).getTime()).toBeGreaterThanOrEqual(connectedBy.getTime());
    }

    await app.close();
    // Another instance of the same table reads what the first left behind.
    const next = await start();
    const rows = await history(next);
    expect(rows).toHaveLength(3);
    expect(rows.filter((r) => r.SCP_reason === 'shutdown').map((r) => [r.SCP_socket_id, r.SCP_user_id, r.SCP_instance_id])).toEqual([
      [secondId, 'alice', instanceId],
    ]);
  });

  it('records a cold start\'s old sessions as instance-down, ended at their last refresh', async () => {
    prepare();
    const app = await start();
    await app.close();
    // Rows of an instance that died while no other ran: the next start is a cold start and drops them.
    const reader = await start({ history: false, gc: { enabled: false } });
    const dead = randomUUID();
    const updated = ago(3 * 60 * 60_000);
    const socketIds = await insertSockets(reader, dead, ['dana', null], updated, ago(4 * 60 * 60_000));
    await insertLease(reader, dead, updated);
    await reader.close();
    const cold = await start();
    const rows = await history(cold);
    expect(rows.map((r) => [r.SCP_socket_id, r.SCP_reason, r.SCP_instance_id]).sort()).toEqual(
      socketIds.map((id) => [id, 'instance-down', dead]).sort(),
    );
    for (const row of rows) expect(fromSqlTime(row.SCP_disconnected).getTime()).toBe(updated.getTime());
  });

  it('records the sessions of a reaped instance as instance-down and rows of no instance as cleanup, at their last refresh', async () => {
    prepare(GC_TIMINGS);
    const app = await start();
    const live = await connect(app, 'erin');
    const liveId = live.id;
    await eventually(async () => expect(await liveSessions(app)).toBe(1));
    const updated = ago(10 * 60_000);
    const connected = ago(30 * 60_000);
    const dead = randomUUID();
    // A current lease while its rows go in, made stale after: a GC pass between two inserts would otherwise find
    // the sockets without a lease (rows of no instance: cleanup), or reap the lease before its sockets are there.
    await insertLease(app, dead, new Date());
    const reaped = await insertSockets(app, dead, ['frank', null], updated, connected);
    await app.sql(`UPDATE ${app.table}_instances SET SCP_heartbeat = ? WHERE SCP_instance_id = ?`, [toSqlTime(updated), dead]);
    // No lease at all: collected by time, as rows no instance owns.
    const orphan = randomUUID();
    const collected = await insertSockets(app, orphan, ['gina'], updated, connected);
    await eventually(async () => expect(await liveSessions(app)).toBe(1), 5000);
    const rows = await history(app);
    expect(rows.map((r) => [r.SCP_socket_id, r.SCP_user_id, r.SCP_reason, r.SCP_instance_id]).sort()).toEqual(
      [
        [reaped[0], 'frank', 'instance-down', dead], [reaped[1], null, 'instance-down', dead], [collected[0], 'gina', 'cleanup', orphan],
      ].sort(),
    );
    for (const row of rows) {
      expect(fromSqlTime(row.SCP_disconnected).getTime()).toBe(updated.getTime());
      expect(fromSqlTime(row.SCP_connected).getTime()).toBe(connected.getTime());
    }
    // The live socket is untouched and not in the history.
    expect(rows.some((r) => r.SCP_socket_id === liveId)).toBe(false);
  });

  it('records the sessions a reconciling write drops as ghosts (sockets that closed during an outage)', async () => {
    prepare({ gc: { enabled: false } });
    const app = await start();
    const store = app.app.get(PresenceStore);
    const instance = { id: randomUUID(), host: 'test', pid: 1, startedAt: new Date() };
    await store.heartbeat(instance, new Date());
    const row = (socketId: string, userId: string) => ({
      socket: { socketId, userId, authToken: null, ip: null, origin: null, status: 'online' as const, state: null, connectedAt: ago(5000) },
      presence: true,
      channels: ['room'],
    });
    const write = (ids: string[], reconcile: boolean) =>
      store.write({ upserts: ids.map((id) => row(id, `user-${id}`)), removedSockets: [], removedChannels: [] }, instance.id, new Date(), {
        users: ids.map((id) => `user-${id}`), deferOffline: false, reconcile,
      });
    await write(['kept', 'closed'], false);
    await write(['kept'], true);
    expect((await history(app)).map((r) => [r.SCP_socket_id, r.SCP_user_id, r.SCP_reason, r.SCP_instance_id])).toEqual([
      ['closed', 'user-closed', 'disconnect', instance.id],
    ]);
  });

  it('a storm of disconnects costs a few multi-row INSERTs, not one per session', async () => {
    prepare({ flushIntervalMs: 50 });
    const logger = new SqlStatementCounter({ baseTable: shared.tableName });
    shared.database = { ...shared.database, logger } as never;
    const app = await start();
    const n = 120;
    const clients = await Promise.all(Array.from({ length: n }, (_, i) => connectClient(app.port, app.server, { token: { user_id: `storm-${i}` } })));
    sockets.push(...clients);
    await eventually(async () => expect(await liveSessions(app)).toBe(n), 20_000, 50);
    const before = logger.snapshot();
    await disconnectAll(...clients);
    await eventually(async () => expect(await history(app)).toHaveLength(n), 20_000, 50);
    const after = logger.snapshot();
    const delta = (kind: string) => (after.kinds[kind] ?? 0) - (before.kinds[kind] ?? 0);
    const inserts = delta('INSERT history');
    console.log(
      `[history-cost] ${n} disconnects: ${inserts} INSERT history, ${delta('DELETE sockets')} DELETE sockets, ` +
        `${after.total - before.total} statements in all`,
    );
    // One INSERT per flush that deleted sockets (each flush takes up to 500), in the same transaction as the DELETE.
    expect(inserts).toBeGreaterThan(0);
    expect(inserts).toBeLessThanOrEqual(delta('DELETE sockets'));
    expect(inserts).toBeLessThan(n / 10);
  }, 60_000);

  it('getSessionHistory: newest first, since and limit, validated and capped', async () => {
    prepare();
    const app = await start();
    const ended: Date[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = await connect(app, 'carol');
      ids.push(socket.id!);
      await eventually(async () => expect(await liveSessions(app)).toBe(1));
      socket.disconnect();
      await eventually(async () => expect(await history(app)).toHaveLength(i + 1));
      ended.push(fromSqlTime((await history(app))[i].SCP_disconnected));
      await sleep(20);
    }
    const all = await app.presence.getSessionHistory('carol');
    expect(all.map((s) => s.socketId)).toEqual([...ids].reverse());
    const instanceId = await instanceOf(app);
    expect(all[0]).toEqual<SessionHistoryEntry>({
      socketId: ids[2], userId: 'carol', connectedAt: expect.any(Date), disconnectedAt: ended[2], reason: 'disconnect', instanceId,
    });
    expect(all[0].connectedAt.getTime()).toBeLessThanOrEqual(all[0].disconnectedAt.getTime());
    expect((await app.presence.getSessionHistory('carol', { limit: 2 })).map((s) => s.socketId)).toEqual([ids[2], ids[1]]);
    expect((await app.presence.getSessionHistory('carol', { since: ended[1] })).map((s) => s.socketId)).toEqual([ids[2], ids[1]]);
    expect(await app.presence.getSessionHistory('carol', { since: new Date(ended[2].getTime() + 1) })).toEqual([]);
    expect(await app.presence.getSessionHistory('nobody')).toEqual([]);

    for (const bad of [{ limit: 0 }, { limit: 1.5 }, { limit: '10' }, { since: '2026-01-01' }, { since: new Date(Number.NaN) }, null, []]) {
      await expect(app.presence.getSessionHistory('carol', bad as never)).rejects.toBeInstanceOf(PresenceError);
    }
    await expect(app.presence.getSessionHistory('' as never)).rejects.toBeInstanceOf(PresenceError);
    await expect(app.presence.getSessionHistory(42 as never)).rejects.toBeInstanceOf(PresenceError);

    // More than the cap: 1,100 old sessions of one user, a limit of 5,000 answers 1,000.
    const base = Date.now();
    const rows = Array.from({ length: 1100 }, (_, i) => [`old-${i}`, 'heidi', toSqlTime(new Date(base - 60_000 - i)), toSqlTime(new Date(base - 50_000 - i)), 'disconnect', 'x']);
    await app.sql(`INSERT INTO ${app.table}_history (${HISTORY_COLUMNS.join(', ')}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`, rows.flat());
    const capped = await app.presence.getSessionHistory('heidi', { limit: 5000 });
    expect(capped).toHaveLength(1000);
    expect(capped[0].socketId).toBe('old-0');
  });

  it('getUserStatusDetails keeps an offline user\'s last seen from the history once the status row is pruned', async () => {
    prepare();
    const app = await start();
    const socket = await connect(app, 'ivan');
    await eventually(async () => expect(await liveSessions(app)).toBe(1));
    socket.disconnect();
    await eventually(async () => expect(await history(app)).toHaveLength(1));
    const [{ SCP_disconnected }] = await history(app);
    const before = (await app.presence.getUserStatusDetails(['ivan'])).ivan;
    expect(before.status).toBe('offline');
    expect(before.lastSeen!.getTime()).toBeGreaterThanOrEqual(fromSqlTime(SCP_disconnected).getTime());
    // What GC's pruning of status rows does after gc.retentionMs.
    await app.sql(`DELETE FROM ${app.table}_status WHERE SCP_user_id = ?`, ['ivan']);
    expect((await app.presence.getUserStatusDetails(['ivan', 'never'])).ivan).toEqual({ status: 'offline', since: null, lastSeen: fromSqlTime(SCP_disconnected) });
    expect((await app.presence.getUserStatusDetails(['never'])).never).toEqual({ status: 'offline', since: null, lastSeen: null });
  });

  it('the GC leader prunes sessions past history.retentionMs, in bounded batches, and keeps the rest', async () => {
    prepare({ ...GC_TIMINGS, history: { retentionMs: 60 * 60_000 } });
    const app = await start();
    const old = Array.from({ length: 4500 }, (_, i) => [`old-${i}`, `u${i % 7}`, toSqlTime(ago(3 * 60 * 60_000)), toSqlTime(ago(2 * 60 * 60_000)), 'disconnect', 'x']);
    for (let i = 0; i < old.length; i += 500) {
      const part = old.slice(i, i + 500);
      await app.sql(`INSERT INTO ${app.table}_history (${HISTORY_COLUMNS.join(', ')}) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`, part.flat());
    }
    const recent = [`recent`, 'u1', toSqlTime(ago(50 * 60_000)), toSqlTime(ago(40 * 60_000)), 'disconnect', 'x'];
    await app.sql(`INSERT INTO ${app.table}_history (${HISTORY_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, ?, ?)`, recent);
    await eventually(async () => expect((await history(app)).map((r) => r.SCP_socket_id)).toEqual(['recent']), 10_000, 50);
  });

  it('with history off, nothing is written to the history table and getSessionHistory says how to turn it on', async () => {
    prepare({ history: false, ...GC_TIMINGS });
    const app = await start();
    const socket = await connect(app, 'judy');
    await connect(app, 'judy');
    await eventually(async () => expect(await liveSessions(app)).toBe(2));
    socket.disconnect();
    await eventually(async () => expect(await liveSessions(app)).toBe(1));
    const dead = randomUUID();
    await insertSockets(app, dead, ['kim'], ago(10 * 60_000), ago(30 * 60_000));
    await insertLease(app, dead, ago(10 * 60_000));
    await eventually(async () => expect(await liveSessions(app)).toBe(1), 5000);
    expect(await history(app)).toEqual([]);
    await expect(app.presence.getSessionHistory('judy')).rejects.toThrow(/history is off: set the history option/);
    await app.close();
    const next = await start({ history: false });
    expect(await history(next)).toEqual([]);
  });
});

/** The README's SQL for the history, run as printed (with the test's table name) against known sessions. */
describe.each(BACKENDS)('the README history queries (%s)', (backend: Backend) => {
  let app: PresenceApp | undefined;
  afterEach(async () => {
    await app?.close();
    if (app && backend === 'mariadb') await dropTables(app.table);
    app = undefined;
  });

  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## History\n'), readme.indexOf('\n## ', readme.indexOf('\n## History\n') + 5));
  const blocks = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
  const query = (title: string) => {
    const dialect = backend === 'sqlite' ? '(SQLite)' : '(MySQL/MariaDB)';
    const found = blocks.filter((b) => b.split('\n')[0].includes(title) && b.split('\n')[0].includes(dialect));
    expect(found, `one block '${title} ${dialect}' in the README's History section`).toHaveLength(1);
    return found[0].replaceAll('SCPresence_users', app!.table);
  };

  it('peak concurrent sessions per hour and session length per user', async () => {
    app = await startPresenceApp(fastOptions(backend, HISTORY));
    const at = (time: string) => `2026-01-05 ${time}:00.000`;
    const sessions = [
      ['s1', 'alice', at('10:05'), at('11:10')],
      ['s2', 'bob', at('10:10'), at('11:25')],
      ['s3', 'alice', at('10:40'), at('10:45')],
      ['s4', null, at('11:30'), at('11:40')],
    ].map((row) => [...row, 'disconnect', 'x']);
    await app.sql(`INSERT INTO ${app.table}_history (${HISTORY_COLUMNS.join(', ')}) VALUES ${sessions.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`, sessions.flat());
    // A session still open counts too, in the current hour.
    const live = await connectClient(app.port, app.server, { token: { user_id: 'live' } });
    try {
      await eventually(async () => expect(await app!.presence.count('sockets')).toBe(1));
      const peaks = await app.sql<{ hour: string; peak: number | string }>(query('Peak concurrent sessions per hour'));
      const now = new Date().toISOString();
      expect(peaks.map((r) => [r.hour, Number(r.peak)])).toEqual([
        ['2026-01-05 10:00', 3],
        // At 11:00 s1 and s2 were still open: the level carried into the hour counts.
        ['2026-01-05 11:00', 2],
        [`${now.slice(0, 10)} ${now.slice(11, 13)}:00`, 1],
      ]);
    } finally {
      await disconnectAll(live);
    }
    const lengths = await app.sql<Record<string, number | string>>(query('Session length per user'));
    expect(lengths.map((r) => [r.user_id, Number(r.sessions), Number(r.total_s), Number(r.avg_s), Number(r.longest_s)])).toEqual([
      ['bob', 1, 4500, 4500, 4500],
      ['alice', 2, 4200, 2100, 3900],
    ]);
  });
});
