/**
 * One run of one mode: a plain socketcluster-server, or PresenceModule on SQLite or MariaDB, driven through a
 * warm-up, the connect storm, idle, the disconnect storm, (presence) session state changes of the hook latency
 * group, the paced disconnects of the hook latency phase and (presence) a second server that holds idle sockets with every periodic task sped up.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import type { SqlCounters } from '../test/support/sql-counter.js';
import {
  benchState, now, sleep, type ConnectResult, type DisconnectResult, type HeapReading, type IdleResult, type ServerConfig,
  type StateResult,
} from './common.js';
import { diff, summarize, type HeapSummary } from './heap-diff.js';
import {
  Outside, checkStorm, countReaches, cpuDiff, cpuNow, diffCounters, findDatabasePid, percentile, until, untilQuiet, type Cpu,
} from './measurements.js';
import { BENCH_DIR, N, connectTimeout, opts, progress, speedup, waitFor } from './options.js';
import { dirsToRemove, dropTables, startLoads, startServer, stopChild, tablesToDrop, type LoadGroup, type ServerHandle } from './processes.js';

export interface PlainRun {
  run: number;
  throughput: number;
  heapPerSocket: number;
  /** CPU time of each process from just before the storm to its last subscribe acknowledged. */
  stormCpu: Cpu;
  /** Heap growth over the storm by constructor (first run, with heap snapshots). */
  heapGrowth?: HeapSummary;
  /** The server's CPU profile of an extra storm (first run): self time in ms by package and by function. */
  profile?: ProfileSummary;
  /** Plain only: a second plain server whose inbound middleware allows every action, its first storm. */
  passThrough?: { throughput: number };
}

export interface ProfileSummary {
  categories: Record<string, number>;
  functions: Record<string, number>;
}

/**
 * One more storm of N sockets, after the measured phases, with the server's CPU profiled (sampling every
 * 200 µs) until the sockets are connected and, for presence, stored. Then they disconnect.
 */
async function profiledStorm(run: number, server: ServerHandle, load: LoadGroup, authKey: string, db?: { outside: Outside; table: string }): Promise<ProfileSummary | undefined> {
  if (!opts.cpuProfile || run !== 1) return undefined;
  await server.peer.request('profile-start', {}, 10_000);
  let profile: ProfileSummary | undefined;
  await stormAndBack('profiled storm', `c${run}-`, server, load, authKey, db, async () => {
    profile = await server.peer.request<ProfileSummary>('profile-stop', {}, 60_000);
  });
  return profile;
}

/** Sockets per second of a storm of N: first socket created → last subscribe acknowledged ([1]). */
export function throughputOf(storm: ConnectResult): number {
  return (N / (storm.tEnd - storm.t0)) * 1000;
}

/**
 * One storm of N sockets and its end: they connect (and, with `db`, are stored), `whileConnected` runs, then
 * they disconnect (and are removed, or without `db` the server holds none). Returns the storm.
 */
export async function stormAndBack(
  what: string, prefix: string, server: ServerHandle, load: LoadGroup, authKey: string, db?: { outside: Outside; table: string },
  whileConnected?: () => Promise<void>,
): Promise<ConnectResult> {
  const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
  if (db) await until(`${what} stored`, waitFor(30_000), opts.pollMs, async () => (await db.outside.table(db.table)).rows === 3 * N);
  await whileConnected?.();
  checkStorm(what, storm);
  await load.request<DisconnectResult>('disconnect', { timeoutMs: waitFor(30_000) }, waitFor(40_000));
  if (db) await until(`${what} removed`, waitFor(30_000), opts.pollMs, async () => (await db.outside.table(db.table)).rows === 0);
  else await until(`${what} gone`, waitFor(20_000), 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
  return storm;
}

/** Paths for the two heap snapshots of a server, when this run takes them. */
function snapshotPaths(run: number, name: string): { base?: string; loaded?: string } {
  if (!opts.heapSnapshots || run !== 1) return {};
  const dir = mkdtempSync(join(os.tmpdir(), 'scp-bench-heap-'));
  dirsToRemove.add(dir);
  return { base: join(dir, `${name}-base.heapsnapshot`), loaded: join(dir, `${name}-loaded.heapsnapshot`) };
}

function heapGrowth(paths: { base?: string; loaded?: string }): HeapSummary | undefined {
  if (!paths.base || !paths.loaded) return undefined;
  const growth = diff(summarize(paths.base), summarize(paths.loaded));
  rmSync(dirname(paths.base), { recursive: true, force: true });
  return growth;
}

export interface PresenceRun extends PlainRun {
  lifecycleQuestions?: number;
  lifecycleLogger: number;
  stormKinds: SqlCounters;
  /** From just before the connect storm to the statement count after the disconnect storm was written. */
  lifecycleWindowMs: number;
  tableExactConnectMs: number;
  countExactConnectMs: number;
  tableExactDisconnectMs: number;
  countExactDisconnectMs: number;
  hookP50: number;
  hookP99: number;
  hookMax: number;
  hooksMissing: number;
  hookRateAchieved: number;
  /** Disconnect sent → server's 'disconnection' event, and that event → hook, p50 / p99. */
  hookToServerP50: number;
  hookToServerP99: number;
  hookInServerP50: number;
  hookInServerP99: number;
  hookKinds: SqlCounters;
  /** MariaDB: Questions per second from other clients, measured for 1 s before this run's servers started. */
  backgroundQps?: number;
  /** Statements that failed (deadlocks, …) over the whole life of each server, by kind. */
  failures: Record<string, number>;
  idlePerMinQuestions?: number;
  idlePerMinLogger: number;
  idleKinds: SqlCounters;
  idleWindowMs: number;
  /** MariaDB: server-wide Questions minus the module's own statements over the storm (other clients' work). */
  otherClientsStorm?: number;
  /** State phase: N sockets each set their state STATE_TIMES times within stateSpreadMs(N). */
  stateChanges: number;
  /** Statements per state change: the module's logger, and (MariaDB) the server's Questions. */
  statePerChangeLogger: number;
  statePerChangeQuestions?: number;
  stateKinds: SqlCounters;
  /** First setState sent → every socket's last state stored, as another connection sees it. */
  stateStoredMs: number;
  /** setState calls answered late (not stored within statementTimeoutMs, or past the client's ack timeout). */
  stateLate: number;
  /** Heap per socket with the group connected and each socket's state set (the same reading as heapPerSocket). */
  heapPerSocketWithState: number;
  /** What setting the states added, per socket: the reading after the state phase minus the one just before it. */
  heapPerState: number;
  /** The same by constructor (first run, with heap snapshots). */
  stateHeapGrowth?: HeapSummary;
}

/** The state phase: every socket sets its state this many times (a client typing) within `stateSpreadMs(N)`. */
export const STATE_TIMES = 10;
/**
 * Within 2 s, but no faster than 10,000 changes a second in all (the rate of the 2,000-socket bench): at 16k
 * sockets, 80,000 calls a second kept the server's event loop busy for seconds, which the curve would then
 * measure (every socket's ping timer re-phased to the end of the stall, so pings went out in bursts of 16k).
 */
export const stateSpreadMs = (sockets: number): number => Math.max(2000, ((sockets * STATE_TIMES) / 10_000) * 1000);


/**
 * A small round of the same work (connect, auth, subscribe, disconnect) before the baseline heap reading, so
 * that code compiled and caches filled on first use are in the baseline, not counted per socket.
 */
export async function warmUp(run: number, server: ServerHandle, load: LoadGroup, authKey: string, db?: { outside: Outside; table: string }): Promise<void> {
  const n = Math.min(100, N);
  const w = await load.request<ConnectResult>('connect', { port: server.port, n, prefix: `w${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
  checkStorm('warm-up', w);
  if (db) {
    await until('warm-up stored', waitFor(30_000), opts.pollMs, async () => (await db.outside.table(db.table)).rows === 3 * n);
    // The state phase's code paths too, so that what they compile on first use is not counted per socket.
    const states = await load.request<StateResult>('state', { times: 2, durationMs: 200, timeoutMs: 30_000 }, 40_000);
    if (states.failed > 0) throw new Error(`warm-up setState failed for ${states.failed} calls: ${states.errors.join('; ')}`);
  }
  await load.request<DisconnectResult>('disconnect', { timeoutMs: waitFor(30_000) }, waitFor(40_000));
  if (db) {
    await until('warm-up removed', waitFor(30_000), opts.pollMs, async () => (await db.outside.table(db.table)).rows === 0);
    // The join publish comes connectDelayMs after the last join; it must not fall into the storm.
    await countReaches(server.counts, 0, w.tEnd + opts.defaultConnectDelayMs - 1000, 30_000);
  } else {
    await until('warm-up sockets gone', waitFor(20_000), 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
  }
}

export async function runPlain(run: number): Promise<PlainRun> {
  const result = await plainServer(run, false);
  const passThrough = opts.passThroughPlain ? await plainServer(run, true) : undefined;
  progress(
    `plain   run ${run}: ${result.throughput.toFixed(0)} sockets/s, heap ${result.heapPerSocket.toFixed(0)} B/socket` +
      (passThrough ? `; with a pass-through middleware ${passThrough.throughput.toFixed(0)} sockets/s` : ''),
  );
  return { ...result, passThrough: passThrough && { throughput: passThrough.throughput } };
}

/**
 * One plain server through the plain phases, with a load process of its own (as each presence run has, so that
 * first storms compare alike); with `passThrough`, its inbound middleware allows every action.
 */
async function plainServer(run: number, passThrough: boolean): Promise<PlainRun> {
  const authKey = randomBytes(16).toString('hex');
  const name = passThrough ? 'plain-mw' : 'plain';
  const server = await startServer(`${name}#${run}`, { mode: 'plain', passThroughMiddleware: passThrough, authKey, pingInterval: opts.defaultPingInterval });
  const load = await startLoads(`load#${run}`, opts.loadProcesses);
  try {
    await warmUp(run, server, load, authKey);
    const snapshots = passThrough ? {} : snapshotPaths(run, 'plain');
    const base = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.base }, 120_000);
    await untilQuiet();
    const cpu0 = await cpuNow(server.peer, load);
    const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `p${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
    const stormCpu = cpuDiff(cpu0, await cpuNow(server.peer, load));
    checkStorm(`${name} storm`, storm);
    const loaded = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.loaded }, 120_000);
    if (loaded.clients !== N) throw new Error(`${name} server holds ${loaded.clients} sockets, expected ${N}`);
    await load.request<DisconnectResult>('disconnect', { timeoutMs: waitFor(30_000) }, waitFor(40_000));
    await until(`${name} server empty`, waitFor(20_000), 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
    const profile = passThrough ? undefined : await profiledStorm(run, server, load, authKey);
    return { run, throughput: throughputOf(storm), heapPerSocket: (loaded.heapUsed - base.heapUsed) / N, stormCpu, heapGrowth: heapGrowth(snapshots), profile };
  } finally {
    await load.stop();
    await stopChild(server.peer);
  }
}

export interface Fixture {
  server: ServerHandle;
  db: Outside;
  table: string;
  authKey: string;
}

/** The failed statements counted by the server's logger since it started (retried ones included). */
async function failuresOf(server: ServerHandle, into: Record<string, number>, label: string): Promise<void> {
  const counters = await server.peer.request<SqlCounters>('sql', {}, 5000);
  for (const [kind, n] of Object.entries(counters.kinds)) {
    if (kind.startsWith('(failed)')) into[`${label}: ${kind}`] = (into[`${label}: ${kind}`] ?? 0) + n;
  }
}

export interface PresenceServer extends Fixture {
  /** Stops the server and drops its table or file. */
  close(): Promise<void>;
}

/** A presence server on a table (MariaDB) or file (SQLite) of its own, with a connection that reads that table. */
export async function openPresenceServer(
  mode: 'sqlite' | 'mariadb',
  name: string,
  settings: Pick<ServerConfig, 'pingInterval' | 'pingsPerUpdate' | 'gc'>,
): Promise<PresenceServer> {
  const table = `bench_${randomBytes(4).toString('hex')}`;
  const authKey = randomBytes(16).toString('hex');
  let sqliteFile: string | undefined;
  if (mode === 'sqlite') {
    const dir = mkdtempSync(join(opts.sqliteDir, 'scp-bench-'));
    dirsToRemove.add(dir);
    sqliteFile = join(dir, 'presence.sqlite');
  } else {
    tablesToDrop.add(table);
  }
  const sqlLogFile = opts.logSql ? join(BENCH_DIR, `sql-${name.replace(/[^A-Za-z0-9-]+/g, '-')}.log`) : undefined;
  if (sqlLogFile) writeFileSync(sqlLogFile, '');
  let server: ServerHandle | undefined;
  let db: Outside | undefined;
  const close = async () => {
    if (server) await stopChild(server.peer);
    await db?.close().catch(() => undefined);
    if (mode === 'mariadb') await dropTables(table);
    if (sqliteFile) {
      rmSync(dirname(sqliteFile), { recursive: true, force: true });
      dirsToRemove.delete(dirname(sqliteFile));
    }
  };
  try {
    server = await startServer(name, { mode, authKey, tableName: table, sqliteFile, mysqlUrl: opts.mysqlUrl, sqlLogFile, ...settings });
    db = await Outside.connectTo(mode, sqliteFile);
    return { server, db, table, authKey, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function withPresenceServer<T>(
  mode: 'sqlite' | 'mariadb',
  name: string,
  settings: Pick<ServerConfig, 'pingInterval' | 'pingsPerUpdate' | 'gc'>,
  body: (fixture: Fixture) => Promise<T>,
): Promise<T> {
  const opened = await openPresenceServer(mode, name, settings);
  try {
    return await body(opened);
  } finally {
    await opened.close();
  }
}

/** What a run without the idle-window phase (the curve) reports for it. */
const noStatePhase = {
  stateChanges: 0, statePerChangeLogger: NaN, stateKinds: { total: 0, kinds: {} }, stateStoredMs: NaN, stateLate: 0, heapPerSocketWithState: NaN, heapPerState: NaN,
} satisfies Partial<PresenceRun>;
const noIdlePhase = { idlePerMinLogger: NaN, idleKinds: { total: 0, kinds: {} }, idleWindowMs: 0 } satisfies Partial<PresenceRun>;

export async function runPresence(mode: 'sqlite' | 'mariadb', run: number, plainHeap?: number): Promise<PresenceRun> {
  const load = await startLoads(`load#${run}`, opts.loadProcesses);
  const label = mode.padEnd(7);
  const dbPid = mode === 'mariadb' ? findDatabasePid() : undefined;
  let backgroundQps: number | undefined;
  const failures: Record<string, number> = {};
  try {
    if (mode === 'mariadb') {
      const outside = await Outside.connectTo('mariadb');
      try {
        const perRead = await outside.calibrate();
        const q0 = await outside.questions();
        const t0 = now();
        await sleep(1000);
        const q1 = await outside.questions();
        backgroundQps = ((q1 - q0 - perRead) / (now() - t0)) * 1000;
      } finally {
        await outside.close();
      }
    }
    // ---- server with the default ping and heartbeat: storm, heap, exactness, hook latency
    const main = await withPresenceServer(mode, `${mode}#${run}`, { pingInterval: opts.defaultPingInterval }, async ({ server, db, table, authKey }) => {
      const exactRows = (rows: number, presence: number) => async () => {
        const t = await db.table(table);
        return t.rows === rows && t.presence === presence;
      };
      await sleep(200); // startup statements (migration, lease) are over
      await warmUp(run, server, load, authKey, { outside: db, table });
      const snapshots = snapshotPaths(run, mode);
      const base = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.base }, 120_000);
      // What the warm-up and the reading left running (compilers, collections, the database's purge) ends first.
      await untilQuiet();
      const perRead = mode === 'mariadb' ? await db.calibrate() : 0;
      const sql0 = await server.peer.request<SqlCounters>('sql', {}, 5000);
      const q0 = mode === 'mariadb' ? await db.questions() : 0;
      const sentBefore = db.sent; // from here on, every statement of this connection is subtracted
      const window0 = now();

      // connect + auth + subscribe storm
      const cpu0 = await cpuNow(server.peer, load, dbPid);
      const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `s${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
      const stormCpu = cpuDiff(cpu0, await cpuNow(server.peer, load, dbPid));
      checkStorm(`${mode} storm`, storm);
      const tableExact = await until('table exact after the connect storm', waitFor(30_000), opts.pollMs, exactRows(3 * N, N));
      const countExact = await countReaches(server.counts, N, storm.t0, waitFor(30_000));
      const loaded = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.loaded }, 120_000);

      // some go idle
      const idle = await load.request<IdleResult>('idle', { fraction: opts.idleFraction, concurrency: opts.concurrency, timeoutMs: waitFor(30_000) }, waitFor(40_000));
      if (idle.failed > 0) throw new Error(`setStatus idle failed for ${idle.failed} sockets: ${idle.errors.join('; ')}`);
      await until('idle rows stored', waitFor(20_000), opts.pollMs, async () => (await db.table(table)).idle === idle.idle);

      // all disconnect at once
      const gone = await load.request<DisconnectResult>('disconnect', { timeoutMs: waitFor(30_000) }, waitFor(40_000));
      const tableEmpty = await until('table empty after the disconnect storm', waitFor(30_000), opts.pollMs, exactRows(0, 0));
      const countZero = await countReaches(server.counts, 0, gone.tFirst, waitFor(30_000));
      await sleep(300); // trailing statements of the last flush and publish
      const ownStatements = db.sent - sentBefore; // table polls; the final Questions read itself is perRead
      const q1 = mode === 'mariadb' ? await db.questions() : 0;
      const sql1 = await server.peer.request<SqlCounters>('sql', {}, 5000);
      const stormKinds = diffCounters(sql0, sql1);
      const lifecycleWindowMs = now() - window0;

      // hook latency: another N users, disconnected at a steady rate
      const hookStorm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `h${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
      checkStorm(`${mode} hook group`, hookStorm);
      await until('table exact for the hook group', waitFor(30_000), opts.pollMs, exactRows(3 * N, N));
      await sleep(200);

      // session state: each socket of the hook group sets its state STATE_TIMES times within stateSpreadMs(N)
      const statePhase = async () => {
        const stateSnapshots = snapshotPaths(run, `${mode}-state`);
        const withoutState = await server.peer.request<HeapReading>('heap', { snapshot: stateSnapshots.base }, 120_000);
        const stateSql0 = await server.peer.request<SqlCounters>('sql', {}, 5000);
        const sq0 = mode === 'mariadb' ? await db.questions() : 0;
        const stateSent0 = db.sent; // from here on, every statement of this connection is subtracted
        const finalState = JSON.stringify(benchState(STATE_TIMES));
        const states = await load.request<StateResult>('state', { times: STATE_TIMES, durationMs: stateSpreadMs(N), timeoutMs: stateSpreadMs(N) + 60_000 }, stateSpreadMs(N) + 70_000);
        // A late answer is the bound doing its work on an overloaded machine: the state is still written, which the
        // poll below waits for. Any other failure is a refusal, which the bench's states must never get.
        if (states.failed > states.late) throw new Error(`setState failed for ${states.failed - states.late} calls: ${states.errors.join('; ')}`);
        if (states.late > 0) progress(`${label} run ${run}: ${states.late} of ${states.calls} setState calls answered late: ${states.errors[0]}`);
        const statesStored = await until('every state stored', 30_000, opts.pollMs, async () => (await db.withState(table, finalState)) === N);
        await sleep(300); // trailing statements of the last flush
        const stateOwn = db.sent - stateSent0;
        const sq1 = mode === 'mariadb' ? await db.questions() : 0;
        const stateKinds = diffCounters(stateSql0, await server.peer.request<SqlCounters>('sql', {}, 5000));
        const withState = await server.peer.request<HeapReading>('heap', { snapshot: stateSnapshots.loaded }, 120_000);
        if (withState.clients !== N) throw new Error(`presence server holds ${withState.clients} sockets with state, expected ${N}`);
        const stateChanges = N * STATE_TIMES;
        return {
          stateChanges,
          statePerChangeLogger: stateKinds.total / stateChanges,
          statePerChangeQuestions: mode === 'mariadb' ? (sq1 - sq0 - stateOwn - perRead) / stateChanges : undefined,
          stateKinds,
          stateStoredMs: statesStored - states.t0,
          stateLate: states.late,
          heapPerSocketWithState: (withState.heapUsed - base.heapUsed) / N,
          heapPerState: (withState.heapUsed - withoutState.heapUsed) / N,
          stateHeapGrowth: heapGrowth(stateSnapshots),
        };
      };
      const stateResult = opts.statePhase ? await statePhase() : noStatePhase;

      const hookSql0 = await server.peer.request<SqlCounters>('sql', {}, 5000);
      const pacedMs = (N / opts.hookRate) * 1000;
      const paced = await load.request<DisconnectResult>('disconnect', { rate: opts.hookRate, timeoutMs: pacedMs + waitFor(30_000) }, pacedMs + waitFor(40_000));
      type HookRecords = { hooks: Array<[string, number]>; disconnections: Array<[string, number]> };
      let records: HookRecords = { hooks: [], disconnections: [] };
      await until('offline hooks of the hook group', waitFor(30_000), 100, async () => {
        records = await server.peer.request<HookRecords>('hooks', { prefix: `h${run}-` }, 10_000);
        return records.hooks.length >= N;
      }).catch((error: Error) => progress(`${label} run ${run}: ${error.message} (${records.hooks.length} of ${N})`));
      const sentAt = new Map(paced.sent);
      const closedAt = new Map(records.disconnections);
      const latencies = records.hooks.flatMap(([user, at]) => (sentAt.has(user) ? [at - sentAt.get(user)!] : [])).sort((a, b) => a - b);
      const toServer = records.disconnections.flatMap(([user, at]) => (sentAt.has(user) ? [at - sentAt.get(user)!] : [])).sort((a, b) => a - b);
      const inServer = records.hooks.flatMap(([user, at]) => (closedAt.has(user) ? [at - closedAt.get(user)!] : [])).sort((a, b) => a - b);
      await until('table empty after the hook group', waitFor(30_000), opts.pollMs, exactRows(0, 0));
      const hookKinds = diffCounters(hookSql0, await server.peer.request<SqlCounters>('sql', {}, 5000));
      const profile = await profiledStorm(run, server, load, authKey, { outside: db, table });
      await failuresOf(server, failures, 'default timings');

      return {
        run,
        throughput: throughputOf(storm),
        heapPerSocket: (loaded.heapUsed - base.heapUsed) / N,
        stormCpu,
        heapGrowth: heapGrowth(snapshots),
        profile,
        lifecycleQuestions: mode === 'mariadb' ? (q1 - q0 - ownStatements - perRead) / N : undefined,
        lifecycleLogger: stormKinds.total / N,
        stormKinds,
        lifecycleWindowMs,
        otherClientsStorm: mode === 'mariadb' ? q1 - q0 - ownStatements - perRead - stormKinds.total : undefined,
        tableExactConnectMs: tableExact - storm.tEnd,
        countExactConnectMs: countExact - storm.tEnd,
        tableExactDisconnectMs: tableEmpty - gone.tLast,
        countExactDisconnectMs: countZero - gone.tLast,
        hookP50: percentile(latencies, 50),
        hookP99: percentile(latencies, 99),
        hookMax: latencies[latencies.length - 1] ?? NaN,
        hooksMissing: N - latencies.length,
        hookRateAchieved: paced.sent.length > 1 ? ((paced.sent.length - 1) / (paced.tLast - paced.tFirst)) * 1000 : NaN,
        hookToServerP50: percentile(toServer, 50),
        hookToServerP99: percentile(toServer, 99),
        hookInServerP50: percentile(inServer, 50),
        hookInServerP99: percentile(inServer, 99),
        hookKinds,
        ...stateResult,
      };
    });

    // ---- server with every periodic task `speedup` times faster: statements per minute of idle sockets
    const period = opts.idlePingInterval * opts.idlePingsPerUpdate;
    const gc = { intervalMs: Math.round(opts.defaultGcIntervalMs / speedup), thresholdMs: Math.round(opts.defaultGcThresholdMs / speedup) };
    const idleResult = !opts.idlePhase ? noIdlePhase : await withPresenceServer(
      mode, `${mode}-idle#${run}`, { pingInterval: opts.idlePingInterval, pingsPerUpdate: opts.idlePingsPerUpdate, gc },
      async ({ server, db, table, authKey }) => {
        const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `i${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
        checkStorm(`${mode} idle group`, storm);
        const idle = await load.request<IdleResult>('idle', { fraction: opts.idleFraction, concurrency: opts.concurrency, timeoutMs: waitFor(30_000) }, waitFor(40_000));
        if (idle.failed > 0) throw new Error(`setStatus idle failed for ${idle.failed} sockets: ${idle.errors.join('; ')}`);
        await until('idle group stored', waitFor(30_000), opts.pollMs, async () => {
          const t = await db.table(table);
          return t.rows === 3 * N && t.presence === N && t.idle === idle.idle;
        });
        await countReaches(server.counts, N, storm.t0, waitFor(30_000)); // the delayed count publish is out of the window
        await sleep(2 * period);
        const perRead = mode === 'mariadb' ? await db.calibrate() : 0;
        const sql0 = await server.peer.request<SqlCounters>('sql', {}, 5000);
        const q0 = mode === 'mariadb' ? await db.questions() : 0;
        const w0 = now();
        await sleep(opts.idleWindowMs);
        const q1 = mode === 'mariadb' ? await db.questions() : 0;
        const w1 = now();
        const sql1 = await server.peer.request<SqlCounters>('sql', {}, 5000);
        const windowMs = w1 - w0;
        const toDefaultMinute = (statements: number) => (statements / windowMs) * 60_000 / speedup;
        const idleKinds = diffCounters(sql0, sql1);
        await load.request<DisconnectResult>('disconnect', { timeoutMs: waitFor(30_000) }, waitFor(40_000));
        await until('idle group gone', waitFor(30_000), 50, async () => (await db.table(table)).rows === 0);
        await failuresOf(server, failures, `heartbeat and GC ${speedup}× faster`);
        return {
          idlePerMinQuestions: mode === 'mariadb' ? toDefaultMinute(q1 - q0 - perRead) : undefined,
          idlePerMinLogger: toDefaultMinute(idleKinds.total),
          idleKinds: { total: toDefaultMinute(idleKinds.total), kinds: Object.fromEntries(Object.entries(idleKinds.kinds).map(([k, v]) => [k, toDefaultMinute(v)])) },
          idleWindowMs: windowMs,
        };
      },
    );
    const result: PresenceRun = { ...main, ...idleResult, backgroundQps, failures };
    progress(
      `${label} run ${run}: ${result.throughput.toFixed(0)} sockets/s, ` +
        `${(result.lifecycleQuestions ?? result.lifecycleLogger).toFixed(3)} stmts/lifecycle, ` +
        (opts.idlePhase ? `${(result.idlePerMinQuestions ?? result.idlePerMinLogger).toFixed(1)} stmts/min idle, ` : '') +
        `heap ${result.heapPerSocket.toFixed(0)} B/socket${plainHeap !== undefined ? ` (+${(result.heapPerSocket - plainHeap).toFixed(0)} over plain)` : ''}, ` +
        (opts.statePhase ? `${(result.statePerChangeQuestions ?? result.statePerChangeLogger).toFixed(3)} stmts/state change, ` : '') +
        (opts.statePhase ? `heap with state ${result.heapPerSocketWithState.toFixed(0)} B/socket, ` : '') +
        `hook p99 ${result.hookP99.toFixed(1)} ms, table exact ${result.tableExactConnectMs.toFixed(0)} / ${result.tableExactDisconnectMs.toFixed(0)} ms`,
    );
    return result;
  } finally {
    await load.stop();
  }
}
