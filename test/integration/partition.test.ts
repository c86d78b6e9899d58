import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import type { PresenceModuleOptions } from '../../src/index.js';
import { Db, MYSQL_URL, mysqlTarget, urlThrough } from '../cluster/support/db.js';
import { TcpProxy } from '../cluster/support/tcp-proxy.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';
import { HookRecorder } from '../support/hook-recorder.js';
import { BACKENDS, dropTables, eventually, sleep, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';

/*
 * A silent partition between one app and MariaDB: a TCP proxy that swallows every byte and closes nothing, as
 * when packets are dropped with no RST. MariaDB only: SQLite has no network to lose.
 */
const OUTAGE_MS = 10_000;
/** What the README promises with these options: the table is right again within this after the network returns. */
const RECOVERY_BOUND_MS = 15_000;
const PRESENCE = '_SCPRESENCE';

/** Short periods: heartbeat every 400 ms, GC every 300 ms, leases dead after 1.5 s, statements bounded at 1 s. */
const TIMINGS: PresenceModuleOptions = {
  socketcluster: { pingInterval: 200, pingTimeout: 60_000 },
  heartbeat: { pingsPerUpdate: 2 },
  gc: { intervalMs: 300, thresholdMs: 1500 },
  statementTimeoutMs: 1000,
  transactionTimeoutMs: 2000,
  shutdownTimeoutMs: 3000,
};

describe.skipIf(!BACKENDS.includes('mariadb'))('a silent partition from MariaDB', () => {
  let proxy: TcpProxy;
  const apps: PresenceApp[] = [];
  const sockets: AGClientSocket[] = [];

  beforeEach(async () => {
    proxy = await new TcpProxy(mysqlTarget().host, mysqlTarget().port).listen();
  });

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    proxy.restore();
    for (const app of apps) await app.close();
    await proxy.close();
    for (const table of new Set(apps.splice(0).map((app) => app.table))) await dropTables(table);
  }, 30_000);

  const start = async (extra: PresenceModuleOptions = {}) => {
    const options: PresenceModuleOptions = {
      database: { type: 'mysql', url: urlThrough(proxy.port) },
      tableName: uniqueTable('part'),
      flushIntervalMs: 5,
      usercount: { startupQuietMs: 0, connectDelayMs: 0 },
      ...TIMINGS,
      ...extra,
    };
    const app = await startPresenceApp(options, { providers: [HookRecorder] });
    apps.push(app);
    return app;
  };

  const open = async (app: PresenceApp, userId: string, channels: string[] = []) => {
    const socket = await connectClient(app.port, app.server, { token: { user_id: userId } });
    sockets.push(socket);
    for (const channel of channels) await subscribe(socket, channel);
    return socket;
  };

  /** `socket|channel` for every row the table holds, and for every row the server's live sockets call for. */
  const tableRows = async (app: PresenceApp) =>
    (await app.sql<{ s: string; c: string }>(`SELECT SCP_socket_id AS s, SCP_channel AS c FROM \`${app.table}\``))
      .map((r) => `${r.s}|${r.c}`)
      .sort();
  const liveRows = (app: PresenceApp) =>
    Object.values(app.server.clients)
      .flatMap((s) => [`${s.id}|${PRESENCE}`, ...s.subscriptions().map((c) => `${s.id}|${c}`)])
      .sort();
  const statuses = async (app: PresenceApp, users: string[]) =>
    Object.fromEntries(
      (await app.sql<{ u: string; s: string }>(`SELECT SCP_user_id AS u, SCP_status AS s FROM \`${app.table}_status\` WHERE SCP_user_id IN (?)`, [users]))
        .map((r) => [r.u, r.s]),
    );
  const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  it('after 10 s of dropped packets during churn the table equals the live sockets within the stated bound, each hook once', async () => {
    const app = await start();
    const hooks = app.app.get(HookRecorder);
    const before = users('u', 20);
    const opened = new Map<string, AGClientSocket>();
    for (const [i, userId] of before.entries()) opened.set(userId, await open(app, userId, i % 2 ? ['room'] : []));
    await eventually(async () => expect(await tableRows(app)).toEqual(liveRows(app)), 10_000, 50);
    await eventually(() => expect(hooks.userLines().filter((l) => l.startsWith('user.online'))).toHaveLength(20), 5000);

    proxy.blackhole();
    const blackholedAt = Date.now();
    // Churn while every byte is swallowed: 5 leave, 5 arrive, one unsubscribes, one goes idle.
    for (const userId of before.slice(0, 5)) opened.get(userId)!.disconnect();
    const after = users('n', 5);
    for (const userId of after) await open(app, userId, ['room']);
    opened.get('u5')!.subscribe('lobby');
    opened.get('u7')!.unsubscribe('room');
    const setStatusAt = Date.now();
    const answer = await opened.get('u6')!.invoke('presence.setStatus', 'idle', { ackTimeout: 4000 } as never).then(
      () => 'stored',
      (error: Error) => error.name,
    );
    const setStatusMs = Date.now() - setStatusAt;
    // An answer from the module (an error saying it is not stored yet), not the client giving up on the ack.
    expect(answer).toBe('PresenceError');
    await sleep(Math.max(0, blackholedAt + OUTAGE_MS - Date.now()));

    proxy.restore();
    const restoredAt = Date.now();
    const expected: Record<string, string> = { ...Object.fromEntries([...before, ...after].map((u) => [u, 'online'])), u6: 'idle' };
    for (const userId of before.slice(0, 5)) expected[userId] = 'offline';
    await eventually(async () => {
      expect(await tableRows(app)).toEqual(liveRows(app));
      expect(await statuses(app, [...before, ...after])).toEqual(expected);
    }, RECOVERY_BOUND_MS, 100);
    const recoveredMs = Date.now() - restoredAt;
    expect(liveRows(app).filter((r) => r.endsWith(PRESENCE))).toHaveLength(20);

    // Hooks resumed, and each change was told once: online for every user once, offline once for those who left.
    await eventually(() => expect(hooks.userLines().filter((l) => l.startsWith('user.offline'))).toHaveLength(5), 5000);
    await sleep(2000);
    const lines = hooks.userLines();
    for (const userId of [...before, ...after]) {
      const mine = lines.filter((l) => l.split(':')[1] === userId).map((l) => l.split(':')[0]);
      const wanted = userId === 'u6' ? ['user.online', 'user.idle'] : expected[userId] === 'offline' ? ['user.online', 'user.offline'] : ['user.online'];
      expect(mine, userId).toEqual(wanted);
    }
    expect(await tableRows(app)).toEqual(liveRows(app));
    console.info(
      `[partition] setStatus answered after ${setStatusMs} ms of the blackhole; table equal to the live sockets ` +
        `${recoveredMs} ms after the restore; ${lines.length} user hooks`,
    );
  }, 60_000);

  it('an instance cut off while it holds row locks does not stall the writes of another instance', async () => {
    // B talks to MariaDB directly; A through the proxy, which goes silent right after A has locked x's status row.
    // B starts first, so it is the one that collects (A's own GC statements could be the ones cut off).
    const B = await start({ database: { type: 'mysql', url: MYSQL_URL } });
    const A = await start({ tableName: B.table });
    const y = await open(B, 'y');
    const first = await open(A, 'x');
    await eventually(async () => expect(await statuses(B, ['x'])).toEqual({ x: 'online' }), 10_000, 50);
    first.disconnect(); // x has a status row now, offline
    await eventually(async () => expect(await statuses(B, ['x', 'y'])).toEqual({ x: 'offline', y: 'online' }), 10_000, 50);

    // x comes back on A: A locks x's row to set it online, and is cut off before it commits.
    proxy.blackholeAfter(`${A.table}_status`, 'FOR UPDATE');
    await open(A, 'x');
    // Every 150 ms: InnoDB refreshes what innodb_trx shows only when it was not read for 100 ms.
    await eventually(async () => expect(await B.sql(`SELECT trx_id FROM information_schema.innodb_trx`)).not.toEqual([]), 5000, 150);
    const silentAt = Date.now();
    // B's next flush sets x online for a session of its own (so it locks x's row too) and y idle.
    const x2 = await open(B, 'x');
    await y.invoke('presence.setStatus', 'idle').catch(() => undefined);
    await eventually(async () => {
      expect(await statuses(B, ['x', 'y'])).toEqual({ x: 'online', y: 'idle' });
      expect((await tableRows(B)).filter((row) => row.startsWith(`${x2.id}|`))).toEqual([`${x2.id}|${PRESENCE}`]);
    }, 15_000, 100);
    console.info(`[partition] another instance's writes went through ${Date.now() - silentAt} ms after the lock holder went silent`);
  }, 40_000);

  it("a read during a blackhole rejects with the module's own error, not the driver's, within the bounds", async () => {
    const app = await start();
    await open(app, 'r0');
    await eventually(async () => expect(await tableRows(app)).toEqual(liveRows(app)), 10_000, 50);
    // Its pooled connections closed first: the read must connect anew, into the blackhole.
    proxy.dropAll();
    await sleep(200);
    proxy.blackhole();
    const askedAt = Date.now();
    const error = (await app.presence.count('users').then(() => undefined, (e: Error) => e)) as Error;
    const tookMs = Date.now() - askedAt;
    // Its own bound (PresenceError) or the failed connection attempt (PresenceDatabaseError), whichever came first.
    expect(['PresenceError', 'PresenceDatabaseError']).toContain(error?.name);
    expect(error.message).toMatch(/^the (database did not answer|connection to the database failed)/);
    // ownWrites() waits at most 5 s for the writes queued before, then the read is bounded by statementTimeoutMs.
    expect(tookMs).toBeLessThan(5000 + 2 * TIMINGS.statementTimeoutMs! + 1000);
    proxy.restore();
    await eventually(async () => expect(await app.presence.count('users')).toBe(1), RECOVERY_BOUND_MS, 100);
  }, 40_000);

  it('app.close() in the middle of a blackhole returns within shutdownTimeoutMs and leaves the rows to GC', async () => {
    const app = await start();
    for (const userId of users('c', 5)) await open(app, userId, ['room']);
    await eventually(async () => expect(await tableRows(app)).toEqual(liveRows(app)), 10_000, 50);
    proxy.blackhole();
    sockets[0].disconnect(); // a write queued when the close begins
    await sleep(300);
    const closingAt = Date.now();
    const closed = await Promise.race([app.close().then(() => 'closed'), sleep(TIMINGS.shutdownTimeoutMs! + 5000).then(() => 'hung')]);
    const closeMs = Date.now() - closingAt;
    expect(closed).toBe('closed');
    proxy.restore();
    // What could not be deleted is still there, for the GC of another instance or the next cold start.
    const db = Db.open();
    const left = await db.countRows(app.table).finally(() => db.close());
    expect(left).toBe(10);
    console.info(`[partition] app.close() during a blackhole returned after ${closeMs} ms (${left} rows left)`);
  }, 30_000);

  it('after an outage longer than the GC threshold that both instances saw, neither reaps the other', async () => {
    // X renews every 400 ms and so first after the outage; Y only every 1.2 s, well after X's next GC pass.
    const X = await start({ heartbeat: { pingsPerUpdate: 2 } });
    const Y = await start({ tableName: X.table, heartbeat: { pingsPerUpdate: 6 } });
    for (const userId of users('y', 3)) await open(Y, userId, ['room']);
    await open(X, 'x0');
    await eventually(async () => expect(await tableRows(X)).toEqual([...liveRows(X), ...liveRows(Y)].sort()), 10_000, 50);
    const hooks = [X, Y].map((app) => app.app.get(HookRecorder));
    await eventually(() => expect(hooks.flatMap((h) => h.userLines())).toHaveLength(4), 5000);
    for (const h of hooks) h.clear();

    proxy.cut();
    await sleep(3 * TIMINGS.gc!.thresholdMs!);
    proxy.restore();
    // Long enough for X to have reaped Y several times over, had it not waited.
    await sleep(TIMINGS.gc!.thresholdMs! + TIMINGS.statementTimeoutMs! + 2000);

    const after = hooks.flatMap((h) => h.events.map((e) => `${e.type}:${'reason' in e ? e.reason : ''}`));
    expect(after).toEqual([]);
    expect(await tableRows(X)).toEqual([...liveRows(X), ...liveRows(Y)].sort());
  }, 30_000);
});
