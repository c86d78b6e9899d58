import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { eventually, sleep, uniqueTable } from '../support/presence-app.js';
import {
  eventsOf, isCleanup, isUserEvent, markEvents, startBroker, startInstance, startStateServer, type Instance, type StateServer,
  type WireUserEvent,
} from './support/cluster.js';
import { closeSockets, connectMany, connectStats, connectTo, receive, subscribeTo } from './support/clients.js';
import { Db, MYSQL_URL, mysqlTarget, urlThrough } from './support/db.js';
import { killAllStarted } from './support/processes.js';
import type { InstanceConfig } from './support/protocol.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { toSqlTime } from '../../src/store/sql.dialect.js';

/*
 * Presence instances as separate processes (test/cluster/fixtures/presence-instance.ts) on one MariaDB table,
 * joined by SCC: the scc-state stand-in (test/cluster/fixtures/scc-state-server.ts) and a real scc-broker from
 * npm. The instances use short periods: pingInterval 200 ms, heartbeat every 2 pings (400 ms), GC every 300 ms,
 * leases and rows dead after 1500 ms.
 */
const HEARTBEAT_MS = 400;
const GC_INTERVAL_MS = 300;
const THRESHOLD_MS = 1500;
const PRESENCE = '_SCPRESENCE';
const AUTH_KEY = randomBytes(16).toString('hex');

const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);


describe.sequential('a cluster of presence processes on one MariaDB, joined by SCC', () => {
  const db = Db.open();
  const table = uniqueTable('clu');
  const outageTable = uniqueTable('cluout');
  const coldTable = uniqueTable('clucold');
  const proxy = new TcpProxy(mysqlTarget().host, mysqlTarget().port);
  const sockets: AGClientSocket[] = [];
  let state: StateServer;
  let A: Instance;
  let B: Instance;
  let C: Instance;
  let D: Instance | undefined;
  /** A client on C that follows USERCOUNT (from test a on). */
  let watcher: AGClientSocket;
  let usercount: ReturnType<typeof receive<number>>;

  const config = (tableName: string, extra: Partial<InstanceConfig> = {}): InstanceConfig => ({
    databaseUrl: MYSQL_URL,
    tableName,
    authKey: AUTH_KEY,
    scc: { host: '127.0.0.1', port: state.port },
    ...extra,
  });

  const open = async (specs: Array<{ port: number; userId?: string }>) => {
    const opened = await connectMany(specs, AUTH_KEY);
    sockets.push(...opened);
    return opened;
  };

  /** The users count as the module defines it: distinct user ids, plus one per anonymous socket. */
  const usersInTable = async (t = table) => {
    const [row] = await db.query<{ n: number }>(
      `SELECT COUNT(DISTINCT SCP_user_id) + SUM(SCP_user_id IS NULL) AS n FROM \`${t}\` WHERE SCP_channel = ?`, [PRESENCE]);
    return Number(row.n ?? 0);
  };

  const expectStatuses = async (t: string, expected: Record<string, string>) => {
    expect(await db.statuses(t, Object.keys(expected))).toEqual(expected);
  };

  /**
   * What the table holds for an instance: its sockets, and which of their users have no session on any other
   * instance (those must go offline exactly once when it dies).
   */
  const holdings = async (t: string, instance: Instance) => {
    const rows = await db.query<{ s: string; u: string | null }>(
      `SELECT SCP_socket_id AS s, SCP_user_id AS u FROM \`${t}\` WHERE SCP_instance_id = ? AND SCP_channel = ?`, [instance.id, PRESENCE]);
    const users = [...new Set(rows.flatMap((r) => (r.u === null ? [] : [r.u])))];
    const elsewhere = await db.query<{ u: string }>(
      `SELECT DISTINCT SCP_user_id AS u FROM \`${t}\` WHERE SCP_instance_id <> ? AND SCP_channel = ? AND SCP_user_id IN (?)`,
      [instance.id, PRESENCE, users.length ? users : ['']]);
    const kept = new Set(elsewhere.map((r) => r.u));
    return { socketIds: rows.map((r) => r.s).sort(), users, alone: users.filter((u) => !kept.has(u)).sort() };
  };

  /**
   * Waits until each of `users` has had its `user.online` hook (in any process). The status row is committed
   * before the hook runs, so a stored row alone does not mean its hook has been printed yet.
   */
  const onlineHooksSeen = (instances: Array<Instance | undefined>, users: string[]) =>
    eventually(() => {
      const online = new Set(
        eventsOf(instances.filter((i): i is Instance => i !== undefined))
          .map((a) => a.event)
          .filter((e) => e.type === 'user.online')
          .map((e) => (e as WireUserEvent).userId),
      );
      expect(users.filter((u) => !online.has(u))).toEqual([]);
    }, 10_000, 20);

  /** How many user events of each kind a user got: `user.offline:instance-down` → n. */
  const tally = (events: WireUserEvent[]) => {
    const byUser = new Map<string, string[]>();
    for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), `${e.type}:${e.reason}`]);
    return byUser;
  };

  beforeAll(async () => {
    state = await startStateServer();
    await startBroker(state);
    [A, B, C] = await Promise.all(['A', 'B', 'C'].map((name) => startInstance(name, config(table))));
  }, 120_000);

  afterAll(async () => {
    closeSockets(sockets);
    await killAllStarted();
    await proxy.close();
    for (const t of [table, outageTable, coldTable]) await db.dropTables(t).catch(() => undefined);
    await db.close();
  }, 30_000);

  it('a. publishes the cluster-wide user count from A to a client on C through scc-broker', async () => {
    [watcher] = await open([{ port: C.port, userId: 'watcher' }]);
    usercount = receive<number>(watcher, 'USERCOUNT');
    await usercount.ready();

    // SCC is up once a publish on A and one on B reach C through the broker (a probe of the same user changes no count).
    const probe = receive<string>(watcher, 'probe');
    await probe.ready();
    const probes = await open([{ port: A.port, userId: 'watcher' }, { port: B.port, userId: 'watcher' }]);
    for (const [i, from] of [A, B].entries()) {
      await eventually(async () => {
        await probes[i].transmitPublish('probe', from.name);
        await sleep(100);
        expect(probe.values()).toContain(from.name);
      }, 20_000, 0);
    }
    closeSockets(probes);
    // Let the probes' leaves be stored and their count publishes arrive before counting publishes below.
    await eventually(async () => expect(await db.countRows(table, 'SCP_user_id = ? AND SCP_channel = ?', ['watcher', PRESENCE])).toBe(1), 10_000);
    await sleep(300);

    await open([{ port: B.port, userId: 'b-user' }]);
    await eventually(() => expect(usercount.last()).toBe(2), 10_000);
    const before = usercount.received.length;
    await open([{ port: A.port, userId: 'a-user' }]);
    // C itself publishes nothing for a socket on A: this integer came from A, through the broker.
    await eventually(() => expect(usercount.last()).toBe(3), 10_000);
    expect(usercount.values().slice(before)).toEqual([3]);
    expect(await usersInTable()).toBe(3);
  }, 60_000);

  it('b. kill -9 of an instance with 300 users: its rows are reaped once, offline hooks only for users left without a session', async () => {
    const leaderId = await db.leader(table, THRESHOLD_MS);
    // Never C (the watcher is there), never the GC leader (test c kills that one).
    const victim = [B, A].find((i) => i.id !== leaderId)!;
    const survivors = [A, B, C].filter((i) => i !== victim);
    const users = range('k', 0, 300);
    const shared = users.slice(0, 100);
    const alone = users.slice(100);
    const opened = await open([
      ...users.map((userId) => ({ port: victim.port, userId })),
      ...shared.map((userId) => ({ port: C.port, userId })),
    ]);
    const victimSocketIds = opened.slice(0, 300).map((s) => s.id!).sort();
    await eventually(async () => {
      expect(await db.countRows(table, 'SCP_instance_id = ? AND SCP_channel = ? AND SCP_user_id LIKE ?', [victim.id, PRESENCE, 'k%'])).toBe(300);
      expect(await db.countRows(table, 'SCP_instance_id = ? AND SCP_channel = ? AND SCP_user_id LIKE ?', [C.id, PRESENCE, 'k%'])).toBe(100);
      expect(Object.values(await db.statuses(table, users)).every((s) => s === 'online')).toBe(true);
    }, 20_000, 50);
    await onlineHooksSeen([A, B, C], users);
    // Besides the 300 k users, the victim holds the socket of a-user or b-user from test a.
    const held = await holdings(table, victim);
    expect(held.socketIds).toEqual(expect.arrayContaining(victimSocketIds));
    expect(held.alone).toEqual(expect.arrayContaining(alone));
    expect(held.alone.filter((u) => !alone.includes(u))).toHaveLength(1);
    const countBefore = await usersInTable();
    expect(countBefore).toBe(3 + 300);
    await eventually(() => expect(usercount.last()).toBe(countBefore), 10_000);

    const mark = markEvents(survivors);
    const killedAt = Date.now();
    await victim.process.kill('SIGKILL');
    await eventually(async () => expect(await db.countRows(table, 'SCP_instance_id = ?', [victim.id])).toBe(0), 15_000, 25);
    const reapedMs = Date.now() - killedAt;
    // A few more GC passes: a second reaper would show up now.
    await sleep(4 * GC_INTERVAL_MS);

    const after = eventsOf(survivors, mark);
    const userEvents = after.map((a) => a.event).filter(isUserEvent);
    const byUser = tally(userEvents);
    for (const userId of alone) expect(byUser.get(userId), userId).toEqual(['user.offline:instance-down']);
    for (const userId of shared) expect(byUser.get(userId), userId).toBeUndefined();
    for (const userId of held.alone) expect(byUser.get(userId), userId).toEqual(['user.offline:instance-down']);
    expect(userEvents).toHaveLength(held.alone.length);
    expect(new Set(userEvents.map((e) => e.instanceId))).toEqual(new Set([victim.id]));

    const cleanups = after.filter((a) => isCleanup(a.event));
    expect(cleanups).toHaveLength(1);
    const [{ from: reaper, event: cleanup }] = cleanups;
    expect(cleanup).toMatchObject({ type: 'cleanup', instanceId: victim.id });
    expect([...((cleanup as { socketIds?: string[] }).socketIds ?? [])].sort()).toEqual(held.socketIds);
    expect(reaper.id).toBe(leaderId);
    expect(await db.leases(table).then((l) => l.map((x) => x.id))).not.toContain(victim.id);

    expect(await usersInTable()).toBe(countBefore - held.alone.length);
    await eventually(() => expect(usercount.last()).toBe(countBefore - held.alone.length), 10_000);
    await expectStatuses(table, Object.fromEntries([...alone.map((u) => [u, 'offline']), ...shared.map((u) => [u, 'online'])]));
    // The lease has to expire first (threshold after the last heartbeat), then the next GC pass reaps.
    expect(reapedMs).toBeGreaterThanOrEqual(THRESHOLD_MS - HEARTBEAT_MS - 300);
    expect(reapedMs).toBeLessThan(THRESHOLD_MS + GC_INTERVAL_MS + 3000);
    console.info(`[cluster] b: ${victim.name} (300 sockets) reaped ${reapedMs} ms after kill -9 by ${reaper.name}; ${userEvents.length} offline hooks; ${connectStats.reopenedAfter4009} sockets reopened after 4009`);
  }, 60_000);

  it('c. the GC leader killed: the next oldest instance takes over GC once the lease expires', async () => {
    D = await startInstance('D', config(table));
    const live = [A, B, C, D].filter((i) => i.alive);
    expect(live).toHaveLength(3);
    const leases = (await db.leases(table)).filter((l) => live.some((i) => i.id === l.id));
    leases.sort((a, b) => a.started - b.started || (a.id < b.id ? -1 : 1));
    // The leader is the oldest live instance.
    const leaderId = await db.leader(table, THRESHOLD_MS);
    expect(leaderId).toBe(leases[0].id);
    const leader = live.find((i) => i.id === leaderId)!;
    const successor = live.find((i) => i.id === leases[1].id)!;
    const others = live.filter((i) => i !== leader);

    const users = range('g', 0, 20);
    const opened = await open([
      ...users.map((userId) => ({ port: leader.port, userId })),
      ...users.slice(0, 10).map((userId) => ({ port: D!.port, userId })),
    ]);
    const leaderSocketIds = opened.slice(0, 20).map((s) => s.id!).sort();
    await eventually(async () => {
      const stored = (instance: Instance) =>
        db.countRows(table, 'SCP_instance_id = ? AND SCP_channel = ? AND SCP_user_id LIKE ?', [instance.id, PRESENCE, 'g%']);
      expect(await stored(leader)).toBe(20);
      expect(await stored(D!)).toBe(10);
      expect(Object.values(await db.statuses(table, users)).every((s) => s === 'online')).toBe(true);
    }, 20_000, 50);
    await onlineHooksSeen(live, users);
    const held = await holdings(table, leader);
    expect(held.socketIds).toEqual(expect.arrayContaining(leaderSocketIds));
    expect(held.alone).toEqual(expect.arrayContaining(users.slice(10)));

    const mark = markEvents(others);
    const killedAt = Date.now();
    await leader.process.kill('SIGKILL');
    // Rows no live instance owns (an instance without a lease, silent for an hour), with online users.
    const staleUsers = range('stale', 0, 5);
    const old = toSqlTime(new Date(Date.now() - 3_600_000));
    await db.query(
      `INSERT INTO \`${table}\` (SCP_socket_id, SCP_user_id, SCP_channel, SCP_updated, SCP_instance_id, SCP_status, SCP_connected) VALUES ?`,
      [staleUsers.flatMap((u) => [[`${u}-socket`, u, PRESENCE, old, 'gone', 'online', old], [`${u}-socket`, u, 'room', old, 'gone', 'online', old]])],
    );
    await db.query(`INSERT INTO \`${table}_status\` (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ?`, [
      staleUsers.map((u) => [u, 'online', old, old]),
    ]);

    let reapedMs = 0;
    let collectedMs = 0;
    await eventually(async () => {
      const now = Date.now() - killedAt;
      if (!reapedMs && (await db.countRows(table, 'SCP_instance_id = ?', [leader.id])) === 0) reapedMs = now;
      if (!collectedMs && (await db.countRows(table, 'SCP_instance_id = ?', ['gone'])) === 0) collectedMs = now;
      expect(reapedMs && collectedMs).toBeGreaterThan(0);
    }, 15_000, 25);
    await sleep(4 * GC_INTERVAL_MS);

    // Nobody collected while the dead leader's lease was current; the successor did once it expired.
    for (const ms of [reapedMs, collectedMs]) {
      expect(ms).toBeGreaterThanOrEqual(THRESHOLD_MS - HEARTBEAT_MS - 300);
      expect(ms).toBeLessThan(THRESHOLD_MS + GC_INTERVAL_MS + 3000);
    }
    expect(await db.leader(table, THRESHOLD_MS)).toBe(successor.id);

    const after = eventsOf(others, mark);
    const cleanups = after.filter((a) => isCleanup(a.event));
    expect(cleanups.map((c) => c.from.name)).toEqual([successor.name, successor.name]);
    const reap = cleanups.find((c) => (c.event as { instanceId?: string }).instanceId === leader.id);
    const garbage = cleanups.find((c) => (c.event as { instanceId?: string }).instanceId === undefined);
    expect([...((reap?.event as { socketIds?: string[] })?.socketIds ?? [])].sort()).toEqual(held.socketIds);
    expect([...((garbage?.event as { socketIds?: string[] })?.socketIds ?? [])].sort()).toEqual(staleUsers.map((u) => `${u}-socket`).sort());

    const userEvents = after.map((a) => a.event).filter(isUserEvent);
    const byUser = tally(userEvents);
    for (const userId of held.alone) expect(byUser.get(userId), userId).toEqual(['user.offline:instance-down']);
    for (const userId of users.slice(0, 10)) expect(byUser.get(userId), userId).toBeUndefined();
    for (const userId of staleUsers) expect(byUser.get(userId), userId).toEqual(['user.offline:cleanup']);
    expect(userEvents).toHaveLength(held.alone.length + staleUsers.length);
    console.info(
      `[cluster] c: leader ${leader.name} killed; ${successor.name} reaped its rows after ${reapedMs} ms and collected stale rows after ${collectedMs} ms`,
    );
  }, 60_000);

  it('d. a 10 s database outage: instances keep serving, and afterwards every live socket is stored again with its status', async () => {
    await proxy.listen();
    const viaProxy = config(outageTable, { databaseUrl: urlThrough(proxy.port), scc: undefined });
    const [E, F] = await Promise.all([startInstance('E', viaProxy), startInstance('F', viaProxy)]);
    const named = async (instance: Instance, userId: string | undefined, channels: string[] = []) => {
      const [socket] = await open([{ port: instance.port, userId }]);
      for (const channel of channels) await subscribeTo(socket, channel);
      return socket;
    };
    /** The rows the table must hold for an instance's live sockets: a presence row and one row per channel each. */
    const rowsOfLive = async (instance: Instance) => {
      const live = await instance.liveSockets();
      return { live, rows: live.flatMap((s) => [`${s.id}|${PRESENCE}`, ...s.channels.map((c) => `${s.id}|${c}`)]).sort() };
    };
    /** The table holds exactly what the instance's server holds. */
    const expectTableMatches = async (instance: Instance) => {
      const { live, rows } = await rowsOfLive(instance);
      expect(await db.rowsOf(outageTable, instance.id), instance.name).toEqual(rows);
      return live;
    };

    const e1 = await named(E, 'o1', ['room-a']); // stays, subscribes room-d during the outage
    const e2 = await named(E, 'o2'); // leaves during the outage: o2 goes offline
    const e3 = await named(E, 'o3'); // stays, while o3's socket on F leaves
    const e4 = await named(E, 'o4', ['room-b']); // unsubscribes room-b during the outage
    const e5 = await named(E, 'o5'); // goes idle during the outage
    const f6 = await named(F, 'o6', ['room-c']); // stays
    const f7 = await named(F, 'o7', ['room-c']); // leaves: o7 goes offline
    const f3 = await named(F, 'o3'); // leaves: o3 stays online through e3
    await eventually(async () => {
      for (const instance of [E, F]) await expectTableMatches(instance);
      await expectStatuses(outageTable, Object.fromEntries(range('o', 1, 8).map((u) => [u, 'online'])));
    }, 10_000, 50);

    // The outage: no new connection gets through, the open ones are killed on the server and dropped.
    const cutAt = Date.now();
    proxy.refuseNew();
    const ids = await db.connectionIdsFromPorts(proxy.outboundLocalPorts());
    const killed = await db.kill(ids);
    proxy.dropAll();
    expect(ids.length).toBeGreaterThan(0);

    e2.disconnect();
    f7.disconnect();
    f3.disconnect();
    e4.unsubscribe('room-b');
    await subscribeTo(e1, 'room-d');
    // Answered within statementTimeoutMs (2 s in the fixture) with an error; the status stays queued and is stored later.
    const idleAsked = Date.now();
    const idle = e5.invoke('presence.setStatus', 'idle', { ackTimeout: 5000 }).then(() => 'stored', (error: Error) => error.name);
    const idleAnswered = idle.then(() => Date.now() - idleAsked);
    const e8 = await named(E, 'o8', ['room-a']); // new during the outage
    const e9 = await named(E, undefined); // anonymous, then logs in as o9 during the outage
    await e9.invoke('login', { user_id: 'o9' });
    const flash = await named(E, 'o10', ['room-a']); // comes and goes within the outage: never stored
    flash.disconnect();
    const f11 = await named(F, 'o11'); // new on F
    for (const instance of [E, F]) {
      expect(instance.alive, instance.name).toBe(true);
      const probe = await connectTo(instance.port, { authKey: AUTH_KEY });
      expect(await probe.invoke('ping', null)).toBe('pong');
      closeSockets([probe]);
    }
    await sleep(Math.max(0, cutAt + 10_000 - Date.now()));
    expect(await idle).toBe('PresenceError');
    expect([E.alive, F.alive]).toEqual([true, true]);
    expect(proxy.refused).toBeGreaterThan(0); // they kept trying

    const restoredAt = Date.now();
    proxy.restore();
    // The table comes to equal the live sockets: missing rows written, rows of sockets closed meanwhile removed.
    let ghostRows = 0;
    await eventually(async () => {
      ghostRows = 0;
      for (const instance of [E, F]) {
        const { rows } = await rowsOfLive(instance);
        const stored = await db.rowsOf(outageTable, instance.id);
        ghostRows += stored.filter((r) => !rows.includes(r)).length;
        expect([...stored].sort(), instance.name).toEqual([...rows].sort());
      }
      // The test's own bookkeeping agrees with what the servers hold.
      expect((await E.liveSockets()).map((s) => s.id).sort()).toEqual([e1, e3, e4, e5, e8, e9].map((s) => s.id).sort());
      expect((await F.liveSockets()).map((s) => s.id).sort()).toEqual([f6, f11].map((s) => s.id).sort());
      // o2 and o7 left during the outage; o10 came and went within it (never stored, never online).
      await expectStatuses(outageTable, {
        o1: 'online', o2: 'offline', o3: 'online', o4: 'online', o5: 'idle', o6: 'online', o7: 'offline', o8: 'online', o9: 'online',
        o10: 'offline', o11: 'online',
      });
    }, 20_000, 50);
    const consistentMs = Date.now() - restoredAt;
    await sleep(5 * HEARTBEAT_MS);
    let ghostRowsLater = 0;
    for (const instance of [E, F]) {
      const { rows } = await rowsOfLive(instance);
      ghostRowsLater += (await db.rowsOf(outageTable, instance.id)).filter((r) => !rows.includes(r)).length;
    }
    expect(ghostRowsLater).toBe(0);
    expect([E.alive, F.alive]).toEqual([true, true]);

    // Hooks: every user's events form one chain from offline to the final status, none repeats a status.
    const final: Record<string, string> = await db.statuses(outageTable, range('o', 1, 12));
    const events = eventsOf([E, F]).map((a) => a.event).filter(isUserEvent);
    for (const userId of range('o', 1, 12)) {
      const mine = events.filter((e) => e.userId === userId);
      for (const e of mine) expect(e.previousStatus, userId).not.toBe(e.status);
      for (const status of ['online', 'idle', 'offline']) {
        const out = mine.filter((e) => e.previousStatus === status).length;
        const into = mine.filter((e) => e.status === status).length;
        expect(out - into, `${userId} ${status}: ${mine.map((e) => `${e.previousStatus}>${e.status}`).join(' ')}`).toBe(
          (status === 'offline' ? 1 : 0) - (status === final[userId] ? 1 : 0),
        );
      }
    }
    // Both leases went stale during the outage. The first instance to renew must not reap the other, which is
    // alive and renewing too: an instance that has just recovered waits one GC threshold before it reaps anyone.
    const reaped = eventsOf([E, F]).filter((a) => isCleanup(a.event) && (a.event as { socketIds?: string[] }).socketIds);
    const downs = events.filter((e) => e.reason === 'instance-down').length;
    expect(reaped).toEqual([]);
    expect(downs).toBe(0);
    console.info(
      `[cluster] d: ${ids.length} MariaDB connections killed (${killed} still there), ${proxy.refused} connections refused during the outage; ` +
        `setStatus answered in ${await idleAnswered} ms during the outage; live sockets stored ${consistentMs} ms after the restore; ` +
        `${ghostRows} rows of closed sockets left then, ${ghostRowsLater} five heartbeats later; ` +
        `${events.length} user hooks; ${reaped.length} instance reaped by the other after the restore (${downs} instance-down hooks)`,
    );
    await Promise.all([E.process.kill('SIGKILL'), F.process.kill('SIGKILL')]);
  }, 90_000);

  it('d2. SIGTERM while the database is blackholed: the instance exits within shutdownTimeoutMs, and a cold start later drops its rows', async () => {
    const silentTable = uniqueTable('clusil');
    const hole = await new TcpProxy(mysqlTarget().host, mysqlTarget().port).listen();
    try {
      const G = await startInstance('G', config(silentTable, { databaseUrl: urlThrough(hole.port), scc: undefined }));
      await open(range('s', 0, 5).map((userId) => ({ port: G.port, userId })));
      await eventually(async () => expect(await db.countRows(silentTable, 'SCP_instance_id = ?', [G.id])).toBe(5), 10_000, 50);

      hole.blackhole();
      await sleep(500);
      const signalledAt = Date.now();
      const exit = await G.process.kill('SIGTERM');
      const exitMs = Date.now() - signalledAt;
      expect(exit.signal === 'SIGTERM' || exit.code === 0, JSON.stringify(exit)).toBe(true);
      // shutdownTimeoutMs of the fixture is 3 s; the rest is the process's own start of its exit.
      expect(exitMs).toBeLessThan(8000);
      hole.restore();
      expect(await db.countRows(silentTable, 'SCP_instance_id = ?', [G.id])).toBe(5);
      const logged = G.process.tail.join('\n');
      expect(logged).toMatch(/next cold start/);

      // Its lease expires; the next instance on an otherwise empty table is a cold start, which drops those rows.
      await sleep(THRESHOLD_MS + 200);
      const H = await startInstance('H', config(silentTable, { scc: undefined }));
      expect(await db.countRows(silentTable, 'SCP_instance_id = ?', [G.id])).toBe(0);
      console.info(`[cluster] d2: SIGTERM during a blackhole exited after ${exitMs} ms; the log says its rows are left to GC or the next cold start`);
      await H.process.kill('SIGKILL');
    } finally {
      await hole.close();
      await db.dropTables(silentTable).catch(() => undefined);
    }
  }, 120_000);

  it('e. SIGTERM: the instance removes its rows before it exits, and its users without another session go offline once', async () => {
    const target = D!;
    const live = [A, B, C, D!].filter((i) => i.alive);
    expect(live).toContain(target);
    const other = live.find((i) => i !== target)!;
    const users = range('h', 0, 10);
    await open([...users.map((userId) => ({ port: target.port, userId })), ...users.slice(0, 5).map((userId) => ({ port: other.port, userId }))]);
    await eventually(async () => {
      expect(await db.countRows(table, 'SCP_instance_id = ? AND SCP_channel = ? AND SCP_user_id LIKE ?', [target.id, PRESENCE, 'h%'])).toBe(10);
      expect(await db.countRows(table, 'SCP_instance_id = ? AND SCP_channel = ? AND SCP_user_id LIKE ?', [other.id, PRESENCE, 'h%'])).toBe(5);
    }, 10_000, 50);
    await onlineHooksSeen(live, users);
    const held = await holdings(table, target);
    expect(held.alone).toEqual(expect.arrayContaining(users.slice(5)));

    const mark = markEvents(live);
    const exit = await target.process.kill('SIGTERM');
    // Nest closes the app, then ends the process with the same signal: a graceful exit, not a crash.
    expect(exit.signal === 'SIGTERM' || exit.code === 0, JSON.stringify(exit)).toBe(true);
    expect(await db.countRows(table, 'SCP_instance_id = ?', [target.id])).toBe(0);
    expect((await db.leases(table)).map((l) => l.id)).not.toContain(target.id);
    await expectStatuses(table, Object.fromEntries(users.map((u, i) => [u, i < 5 ? 'online' : 'offline'])));
    // Long enough for a reaper to fire a second time, if the lease had been left behind.
    await sleep(THRESHOLD_MS + 2 * GC_INTERVAL_MS);

    const after = eventsOf(live, mark);
    const userEvents = after.map((a) => a.event).filter(isUserEvent);
    const byUser = tally(userEvents);
    for (const userId of held.alone) expect(byUser.get(userId), userId).toEqual(['user.offline:disconnect']);
    for (const userId of users.slice(0, 5)) expect(byUser.get(userId), userId).toBeUndefined();
    expect(userEvents).toHaveLength(held.alone.length);
    expect(after.filter((a) => isUserEvent(a.event)).every((a) => a.from === target)).toBe(true);
    expect(after.filter((a) => isCleanup(a.event))).toEqual([]);
    console.info(`[cluster] e: ${target.name} exited on SIGTERM (${JSON.stringify(exit)}) with ${held.socketIds.length} sockets; ${userEvents.length} offline hooks`);
  }, 30_000);

  it('f. cold start: of two instances started together on a table with old rows, exactly one drops them', async () => {
    await db.createTables(coldTable);
    const deadId = `dead-${randomBytes(4).toString('hex')}`;
    const old = toSqlTime(new Date(Date.now() - 3_600_000));
    const oldUsers = range('old', 0, 50);
    await db.query(
      `INSERT INTO \`${coldTable}\` (SCP_socket_id, SCP_user_id, SCP_channel, SCP_updated, SCP_instance_id, SCP_status, SCP_connected) VALUES ?`,
      [oldUsers.flatMap((u) => [[`${u}-socket`, u, PRESENCE, old, deadId, 'online', old], [`${u}-socket`, u, 'lobby', old, deadId, 'online', old]])],
    );
    await db.query(
      `INSERT INTO \`${coldTable}_instances\` (SCP_instance_id, SCP_host, SCP_pid, SCP_started, SCP_heartbeat) VALUES (?, 'gone-host', 1, ?, ?)`,
      [deadId, toSqlTime(new Date(Date.now() - 7_200_000)), old],
    );
    await db.query(`INSERT INTO \`${coldTable}_status\` (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ?`, [
      oldUsers.map((u) => [u, 'online', old, old]),
    ]);
    expect(await db.countRows(coldTable)).toBe(100);

    const started = await Promise.all(['P', 'Q'].map((name) => startInstance(name, config(coldTable, { scc: undefined }))));
    // A few GC passes too: the old instance must not be reaped as well.
    await sleep(THRESHOLD_MS + 2 * GC_INTERVAL_MS);

    const cleanups = eventsOf(started).filter((a) => isCleanup(a.event));
    expect(cleanups).toHaveLength(1);
    expect(cleanups[0].event).not.toHaveProperty('socketIds');
    expect(cleanups[0].event).not.toHaveProperty('instanceId');
    expect(await db.countRows(coldTable)).toBe(0);
    expect((await db.leases(coldTable)).map((l) => l.id).sort()).toEqual(started.map((i) => i.id).sort());
    await expectStatuses(coldTable, Object.fromEntries(oldUsers.map((u) => [u, 'offline'])));
    // The cleanup event is the signal to reset everyone: no per-user hook for the old rows.
    expect(eventsOf(started).filter((a) => isUserEvent(a.event))).toEqual([]);
    console.info(`[cluster] f: cold start done by ${cleanups[0].from.name}; 100 old rows of ${deadId} dropped`);
    await Promise.all(started.map((i) => i.process.kill('SIGKILL')));
  }, 60_000);
});
