/**
 * `npm run bench [-- options]`: the cost of presence tracking, measured with real processes on this machine.
 *
 * For each run and each mode (plain socketcluster-server, PresenceModule on SQLite, PresenceModule on MariaDB)
 * a server process (bench/server.ts) and a load process (bench/load.ts) are started; this process drives the
 * phases over IPC, watches the table through a connection of its own, and at the end prints one table (the
 * median of the runs, with min and max) and writes it to bench/results.md. See bench/README.md.
 *
 * Options: --quick (1 run of 300 sockets, a short idle window), --sockets N, --runs N, --concurrency N,
 * --modes plain,sqlite,mariadb, --idle-window-ms N, --hook-rate N, --out FILE.
 * Environment: PRESENCE_BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306/test),
 * PRESENCE_BENCH_LOG_SQL=1 (every statement of the module is written to bench/sql-<mode>-<run>-<phase>.log).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { presenceTableNames } from '../dist/index.js';
import { diff, summarize, topPerSocket, type HeapSummary } from './heap-diff.js';
import {
  Peer, now, sleep, type ConnectResult, type DisconnectResult, type HeapReading, type IdleResult, type Notice,
  type ServerConfig, type SqlCounters,
} from './common.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH_DIR, '..');
const started = Date.now();

// ---------------------------------------------------------------- options

type Mode = 'plain' | 'sqlite' | 'mariadb';
const ALL_MODES: Mode[] = ['plain', 'sqlite', 'mariadb'];

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sockets: { type: 'string' },
    runs: { type: 'string' },
    concurrency: { type: 'string' },
    modes: { type: 'string' },
    'idle-window-ms': { type: 'string' },
    'hook-rate': { type: 'string' },
    out: { type: 'string' },
  },
  strict: true,
});

function intOption(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min} (got '${raw}')`);
  return value;
}

const quick = argv.quick === true;
const opts = {
  quick,
  sockets: intOption('sockets', argv.sockets, quick ? 300 : 2000, 10),
  runs: intOption('runs', argv.runs, quick ? 1 : 5, 1),
  /** Sockets connecting at once (the listen backlog is 511: beyond it, SYN retries would measure the kernel). */
  concurrency: intOption('concurrency', argv.concurrency, 100, 1),
  idleFraction: 0.3,
  hookRate: intOption('hook-rate', argv['hook-rate'], 500, 1),
  idleWindowMs: intOption('idle-window-ms', argv['idle-window-ms'], quick ? 3000 : 10_000, 500),
  /** The idle-window server runs every periodic task of the module this many times faster than the defaults. */
  idlePingInterval: 200,
  idlePingsPerUpdate: 2,
  defaultPingInterval: 8000,
  defaultPingsPerUpdate: 6,
  defaultGcIntervalMs: 60_000,
  defaultGcThresholdMs: 120_000,
  defaultConnectDelayMs: 3000,
  modes: (argv.modes?.split(',').map((m) => m.trim()) ?? ALL_MODES) as Mode[],
  mysqlUrl: process.env.PRESENCE_BENCH_MYSQL_URL ?? process.env.PRESENCE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
  logSql: process.env.PRESENCE_BENCH_LOG_SQL === '1',
  /** Where the SQLite file goes (its file system decides what a COMMIT's fsync costs). */
  sqliteDir: process.env.PRESENCE_BENCH_SQLITE_DIR ?? os.tmpdir(),
  /** Heap snapshots before and after the storm in the first run, summarised by constructor as evidence. */
  heapSnapshots: process.env.PRESENCE_BENCH_HEAP_SNAPSHOT ? process.env.PRESENCE_BENCH_HEAP_SNAPSHOT === '1' : !quick,
  /** An extra connect storm in the first run with the server's CPU profiled, summarised by package as evidence. */
  cpuProfile: process.env.PRESENCE_BENCH_CPU_PROFILE ? process.env.PRESENCE_BENCH_CPU_PROFILE === '1' : !quick,
  out: argv.out ?? join(BENCH_DIR, quick ? 'results-quick.md' : 'results.md'),
  pollMs: 10,
};
for (const mode of opts.modes) if (!ALL_MODES.includes(mode)) throw new Error(`--modes: unknown mode '${mode}' (known: ${ALL_MODES.join(', ')})`);
const speedup = (opts.defaultPingInterval * opts.defaultPingsPerUpdate) / (opts.idlePingInterval * opts.idlePingsPerUpdate);

// ---------------------------------------------------------------- processes and cleanup

const children = new Set<ChildProcess>();
const tablesToDrop = new Set<string>();
const dirsToRemove = new Set<string>();

function spawn(name: string, file: string, args: string[], execArgv: string[] = []): ChildProcess {
  const child = fork(join(BENCH_DIR, file), args, {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // The root tsconfig covers src/ only: without this, tsx would compile the bench's decorators as TC39 ones.
    env: { ...process.env, TSX_TSCONFIG_PATH: join(BENCH_DIR, 'tsconfig.json') },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  return child;
}

/** Asks a child to stop, and kills it (by its own pid) if it has not exited within `ms`. */
async function stopChild(peer: Peer, ms = 10_000): Promise<void> {
  if (!peer.alive) return;
  const exited = new Promise<void>((resolve) => peer.child.once('exit', () => resolve()));
  await peer.request(peer.name.startsWith('load') ? 'exit' : 'stop', {}, ms).catch(() => undefined);
  const timer = setTimeout(() => peer.child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

async function dropTables(base: string): Promise<void> {
  const ds = new DataSource({ type: 'mysql', url: opts.mysqlUrl });
  await ds.initialize();
  try {
    const found = (await ds.query(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND LEFT(table_name, ?) = ?',
      [base.length, base],
    )) as Array<{ name: string }>;
    const names = new Set([...Object.values(presenceTableNames(base)), ...found.map((r) => r.name)]);
    await ds.query(`DROP TABLE IF EXISTS ${[...names].map((n) => `\`${n}\``).join(', ')}`);
    tablesToDrop.delete(base);
  } finally {
    await ds.destroy();
  }
}

async function cleanupEverything(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  for (const base of [...tablesToDrop]) {
    await Promise.race([dropTables(base), sleep(5000)]).catch((error: Error) =>
      process.stderr.write(`could not drop the bench tables ${base}*: ${error.message}\n`),
    );
  }
  for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  dirsToRemove.clear();
}

let aborting = false;
async function abort(reason: string, code: number): Promise<never> {
  if (!aborting) {
    aborting = true;
    process.stderr.write(`\nbench aborted: ${reason}\n`);
    await cleanupEverything();
  }
  process.exit(code);
}

process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
const watchdog = setTimeout(
  () => void abort('the bench ran past its time limit', 1),
  opts.quick ? 150_000 : 20 * 60_000 + opts.runs * opts.sockets * 100,
);

// ---------------------------------------------------------------- server, load, outside view

interface CountEvent {
  value: unknown;
  at: number;
}

interface ServerHandle {
  peer: Peer;
  port: number;
  counts: CountEvent[];
}

async function startServer(name: string, config: ServerConfig): Promise<ServerHandle> {
  const counts: CountEvent[] = [];
  let ready: (port: number) => void = () => undefined;
  const readyPort = new Promise<number>((resolve) => (ready = resolve));
  const child = spawn(name, 'server.ts', [JSON.stringify(config)], ['--expose-gc']);
  const peer = new Peer(name, child, (notice: Notice) => {
    if (notice.type === 'ready') ready(notice.port as number);
    else if (notice.type === 'count') counts.push({ value: notice.value, at: notice.at as number });
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`))),
  );
  const port = await Promise.race([readyPort, exited, sleep(60_000).then(() => Promise.reject(new Error(`${name} not ready within 60 s`)))]);
  return { peer, port, counts };
}

async function startLoad(name: string): Promise<Peer> {
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const child = spawn(name, 'load.ts', []);
  const peer = new Peer(name, child, (notice) => {
    if (notice.type === 'ready') ready();
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${name} exited with code ${code}`))));
  await Promise.race([isReady, exited, sleep(60_000).then(() => Promise.reject(new Error(`${name} not ready within 60 s`)))]);
  return peer;
}

/** A connection of its own to the server's database (what another service reading the table would have). */
class Outside {
  /** Statements this connection sent, to be subtracted from MariaDB's global Questions counter. */
  sent = 0;
  private constructor(
    private readonly ds: DataSource,
    readonly kind: 'sqlite' | 'mariadb',
  ) {}

  static async open(kind: 'sqlite' | 'mariadb', sqliteFile?: string): Promise<Outside> {
    const ds =
      kind === 'mariadb'
        ? new DataSource({ type: 'mysql', url: opts.mysqlUrl, extra: { connectionLimit: 1 } })
        : new DataSource({ type: 'better-sqlite3', database: sqliteFile!, readonly: true, timeout: 5000 });
    await ds.initialize();
    return new Outside(ds, kind);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.sent++;
    return (await this.ds.query(sql, params)) as T[];
  }

  async questions(): Promise<number> {
    const [row] = await this.query<{ Value: string }>(`SHOW GLOBAL STATUS LIKE 'Questions'`);
    return Number(row.Value);
  }

  /** What one Questions read adds to the counter by itself. */
  async calibrate(): Promise<number> {
    const a = await this.questions();
    const b = await this.questions();
    return b - a;
  }

  async table(name: string): Promise<{ rows: number; presence: number; idle: number }> {
    const [row] = await this.query<{ n: number | string; p: number | string | null; i: number | string | null }>(
      `SELECT COUNT(*) AS n, SUM(CASE WHEN SCP_channel = '_SCPRESENCE' THEN 1 ELSE 0 END) AS p,
              SUM(CASE WHEN SCP_channel = '_SCPRESENCE' AND SCP_status = 'idle' THEN 1 ELSE 0 END) AS i
       FROM \`${name}\``,
    );
    return { rows: Number(row.n), presence: Number(row.p ?? 0), idle: Number(row.i ?? 0) };
  }

  close(): Promise<void> {
    return this.ds.destroy();
  }
}

/** Polls `probe` every `everyMs` until it returns true; resolves with the time of the poll that saw it. */
async function until(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<boolean> | boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return now();
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** When the published count became `expected` for good (the first of the trailing run of equal values). */
async function countReaches(counts: CountEvent[], expected: number, after: number, timeoutMs: number): Promise<number> {
  await until(`published count ${expected}`, timeoutMs, 20, () => {
    const last = counts[counts.length - 1];
    return last !== undefined && last.value === expected && last.at >= after;
  });
  let i = counts.length - 1;
  while (i > 0 && counts[i - 1].value === expected && counts[i - 1].at >= after) i--;
  return counts[i].at;
}

function diffCounters(before: SqlCounters, after: SqlCounters): SqlCounters {
  const kinds: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after.kinds)) {
    const d = n - (before.kinds[kind] ?? 0);
    if (d > 0) kinds[kind] = d;
  }
  return { total: after.total - before.total, kinds };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ---------------------------------------------------------------- CPU

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The MariaDB server's pid (to read its CPU time from /proc; it is not ours to stop). */
function findDatabasePid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

function procCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000; // utime + stime
  } catch {
    return undefined;
  }
}

interface Cpu {
  server: number;
  load: number;
  db?: number;
  wall: number;
  /** CPU time of every process on the machine (from /proc/stat), when readable. */
  machine?: number;
}

function machineCpuMs(): number | undefined {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = ticks;
    return ((user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK) * 1000;
  } catch {
    return undefined;
  }
}

async function cpuNow(server: Peer, load: Peer, dbPid?: number): Promise<Cpu> {
  const [s, l] = await Promise.all([
    server.request<NodeJS.CpuUsage>('cpu', {}, 5000),
    load.request<NodeJS.CpuUsage>('cpu', {}, 5000),
  ]);
  return { server: (s.user + s.system) / 1000, load: (l.user + l.system) / 1000, db: procCpuMs(dbPid), wall: now(), machine: machineCpuMs() };
}

function cpuDiff(a: Cpu, b: Cpu): Cpu {
  const minus = (x?: number, y?: number) => (x !== undefined && y !== undefined ? y - x : undefined);
  return { server: b.server - a.server, load: b.load - a.load, db: minus(a.db, b.db), wall: b.wall - a.wall, machine: minus(a.machine, b.machine) };
}

function checkStorm(what: string, result: ConnectResult): void {
  if (result.failed > 0 || result.notAuthenticated > 0) {
    throw new Error(`${what}: ${result.failed} sockets failed, ${result.notAuthenticated} not authenticated: ${result.errors.join('; ')}`);
  }
}

// ---------------------------------------------------------------- one run of one mode

interface PlainRun {
  run: number;
  throughput: number;
  heapPerSocket: number;
  /** CPU time of each process from just before the storm to its last subscribe acknowledged. */
  stormCpu: Cpu;
  /** Heap growth over the storm by constructor (first run, with heap snapshots). */
  heapGrowth?: HeapSummary;
  /** The server's CPU profile of an extra storm (first run): self time in ms by package and by function. */
  profile?: ProfileSummary;
}

interface ProfileSummary {
  categories: Record<string, number>;
  functions: Record<string, number>;
}

/**
 * One more storm of N sockets, after the measured phases, with the server's CPU profiled (sampling every
 * 200 µs) until the sockets are connected and, for presence, stored. Then they disconnect.
 */
async function profiledStorm(run: number, server: ServerHandle, load: Peer, authKey: string, db?: { outside: Outside; table: string }): Promise<ProfileSummary | undefined> {
  if (!opts.cpuProfile || run !== 1) return undefined;
  await server.peer.request('profile-start', {}, 10_000);
  const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `c${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
  if (db) await until('profiled storm stored', 30_000, opts.pollMs, async () => (await db.outside.table(db.table)).rows === 3 * N);
  const profile = await server.peer.request<ProfileSummary>('profile-stop', {}, 60_000);
  checkStorm('profiled storm', storm);
  await load.request<DisconnectResult>('disconnect', { timeoutMs: 30_000 }, 40_000);
  if (db) await until('profiled storm removed', 30_000, opts.pollMs, async () => (await db.outside.table(db.table)).rows === 0);
  else await until('profiled storm gone', 20_000, 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
  return profile;
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

interface PresenceRun extends PlainRun {
  lifecycleQuestions?: number;
  lifecycleLogger: number;
  stormKinds: SqlCounters;
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
}

const N = opts.sockets;
const idleCount = Math.round(opts.idleFraction * 10) * Math.floor(N / 10) + Math.min(N % 10, Math.round(opts.idleFraction * 10));
const connectTimeout = 30_000 + N * 20;
const progress = (line: string) => process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  ${line}\n`);

/**
 * A small round of the same work (connect, auth, subscribe, disconnect) before the baseline heap reading, so
 * that code compiled and caches filled on first use are in the baseline, not counted per socket.
 */
async function warmUp(run: number, server: ServerHandle, load: Peer, authKey: string, db?: { outside: Outside; table: string }): Promise<void> {
  const n = Math.min(100, N);
  const w = await load.request<ConnectResult>('connect', { port: server.port, n, prefix: `w${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
  checkStorm('warm-up', w);
  if (db) {
    await until('warm-up stored', 30_000, opts.pollMs, async () => (await db.outside.table(db.table)).rows === 3 * n);
  }
  await load.request<DisconnectResult>('disconnect', { timeoutMs: 30_000 }, 40_000);
  if (db) {
    await until('warm-up removed', 30_000, opts.pollMs, async () => (await db.outside.table(db.table)).rows === 0);
    // The join publish comes connectDelayMs after the last join; it must not fall into the storm.
    await countReaches(server.counts, 0, w.tEnd + opts.defaultConnectDelayMs - 1000, 30_000);
  } else {
    await until('warm-up sockets gone', 20_000, 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
  }
}

async function runPlain(run: number): Promise<PlainRun> {
  const authKey = randomBytes(16).toString('hex');
  const server = await startServer(`plain#${run}`, { mode: 'plain', authKey, pingInterval: opts.defaultPingInterval });
  const load = await startLoad(`load#${run}`);
  try {
    await warmUp(run, server, load, authKey);
    const snapshots = snapshotPaths(run, 'plain');
    const base = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.base }, 120_000);
    const cpu0 = await cpuNow(server.peer, load);
    const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `p${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
    const stormCpu = cpuDiff(cpu0, await cpuNow(server.peer, load));
    checkStorm('plain storm', storm);
    const loaded = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.loaded }, 120_000);
    if (loaded.clients !== N) throw new Error(`plain server holds ${loaded.clients} sockets, expected ${N}`);
    await load.request<DisconnectResult>('disconnect', { timeoutMs: 30_000 }, 40_000);
    await until('plain server empty', 20_000, 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
    const profile = await profiledStorm(run, server, load, authKey);
    const result = { run, throughput: (N / (storm.tEnd - storm.t0)) * 1000, heapPerSocket: (loaded.heapUsed - base.heapUsed) / N, stormCpu, heapGrowth: heapGrowth(snapshots), profile };
    progress(`plain   run ${run}: ${result.throughput.toFixed(0)} sockets/s, heap ${result.heapPerSocket.toFixed(0)} B/socket`);
    return result;
  } finally {
    await stopChild(load);
    await stopChild(server.peer);
  }
}

interface Fixture {
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

async function withPresenceServer<T>(
  mode: 'sqlite' | 'mariadb',
  name: string,
  settings: Pick<ServerConfig, 'pingInterval' | 'pingsPerUpdate' | 'gc'>,
  body: (fixture: Fixture) => Promise<T>,
): Promise<T> {
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
  const server = await startServer(name, { mode, authKey, tableName: table, sqliteFile, mysqlUrl: opts.mysqlUrl, sqlLogFile, ...settings });
  let db: Outside | undefined;
  try {
    db = await Outside.open(mode, sqliteFile);
    return await body({ server, db, table, authKey });
  } finally {
    await stopChild(server.peer);
    await db?.close().catch(() => undefined);
    if (mode === 'mariadb') await dropTables(table);
    if (sqliteFile) {
      rmSync(dirname(sqliteFile), { recursive: true, force: true });
      dirsToRemove.delete(dirname(sqliteFile));
    }
  }
}

async function runPresence(mode: 'sqlite' | 'mariadb', run: number, plainHeap?: number): Promise<PresenceRun> {
  const load = await startLoad(`load#${run}`);
  const label = mode.padEnd(7);
  const dbPid = mode === 'mariadb' ? findDatabasePid() : undefined;
  let backgroundQps: number | undefined;
  const failures: Record<string, number> = {};
  try {
    if (mode === 'mariadb') {
      const outside = await Outside.open('mariadb');
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
      const perRead = mode === 'mariadb' ? await db.calibrate() : 0;
      const sql0 = await server.peer.request<SqlCounters>('sql', {}, 5000);
      const q0 = mode === 'mariadb' ? await db.questions() : 0;
      const sentBefore = db.sent; // from here on, every statement of this connection is subtracted

      // connect + auth + subscribe storm
      const cpu0 = await cpuNow(server.peer, load, dbPid);
      const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `s${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
      const stormCpu = cpuDiff(cpu0, await cpuNow(server.peer, load, dbPid));
      checkStorm(`${mode} storm`, storm);
      const tableExact = await until('table exact after the connect storm', 30_000, opts.pollMs, exactRows(3 * N, N));
      const countExact = await countReaches(server.counts, N, storm.t0, 30_000);
      const loaded = await server.peer.request<HeapReading>('heap', { snapshot: snapshots.loaded }, 120_000);

      // some go idle
      const idle = await load.request<IdleResult>('idle', { fraction: opts.idleFraction, concurrency: opts.concurrency, timeoutMs: 30_000 }, 40_000);
      if (idle.failed > 0) throw new Error(`setStatus idle failed for ${idle.failed} sockets: ${idle.errors.join('; ')}`);
      await until('idle rows stored', 20_000, opts.pollMs, async () => (await db.table(table)).idle === idle.idle);

      // all disconnect at once
      const gone = await load.request<DisconnectResult>('disconnect', { timeoutMs: 30_000 }, 40_000);
      const tableEmpty = await until('table empty after the disconnect storm', 30_000, opts.pollMs, exactRows(0, 0));
      const countZero = await countReaches(server.counts, 0, gone.tFirst, 30_000);
      await sleep(300); // trailing statements of the last flush and publish
      const ownStatements = db.sent - sentBefore; // table polls; the final Questions read itself is perRead
      const q1 = mode === 'mariadb' ? await db.questions() : 0;
      const sql1 = await server.peer.request<SqlCounters>('sql', {}, 5000);
      const stormKinds = diffCounters(sql0, sql1);

      // hook latency: another N users, disconnected at a steady rate
      const hookStorm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `h${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
      checkStorm(`${mode} hook group`, hookStorm);
      await until('table exact for the hook group', 30_000, opts.pollMs, exactRows(3 * N, N));
      await sleep(200);
      const hookSql0 = await server.peer.request<SqlCounters>('sql', {}, 5000);
      const pacedMs = (N / opts.hookRate) * 1000;
      const paced = await load.request<DisconnectResult>('disconnect', { rate: opts.hookRate, timeoutMs: pacedMs + 30_000 }, pacedMs + 40_000);
      type HookRecords = { hooks: Array<[string, number]>; disconnections: Array<[string, number]> };
      let records: HookRecords = { hooks: [], disconnections: [] };
      await until('offline hooks of the hook group', 30_000, 100, async () => {
        records = await server.peer.request<HookRecords>('hooks', { prefix: `h${run}-` }, 10_000);
        return records.hooks.length >= N;
      }).catch((error: Error) => progress(`${label} run ${run}: ${error.message} (${records.hooks.length} of ${N})`));
      const sentAt = new Map(paced.sent);
      const closedAt = new Map(records.disconnections);
      const latencies = records.hooks.flatMap(([user, at]) => (sentAt.has(user) ? [at - sentAt.get(user)!] : [])).sort((a, b) => a - b);
      const toServer = records.disconnections.flatMap(([user, at]) => (sentAt.has(user) ? [at - sentAt.get(user)!] : [])).sort((a, b) => a - b);
      const inServer = records.hooks.flatMap(([user, at]) => (closedAt.has(user) ? [at - closedAt.get(user)!] : [])).sort((a, b) => a - b);
      await until('table empty after the hook group', 30_000, opts.pollMs, exactRows(0, 0));
      const hookKinds = diffCounters(hookSql0, await server.peer.request<SqlCounters>('sql', {}, 5000));
      const profile = await profiledStorm(run, server, load, authKey, { outside: db, table });
      await failuresOf(server, failures, 'default timings');

      return {
        run,
        throughput: (N / (storm.tEnd - storm.t0)) * 1000,
        heapPerSocket: (loaded.heapUsed - base.heapUsed) / N,
        stormCpu,
        heapGrowth: heapGrowth(snapshots),
        profile,
        lifecycleQuestions: mode === 'mariadb' ? (q1 - q0 - ownStatements - perRead) / N : undefined,
        lifecycleLogger: stormKinds.total / N,
        stormKinds,
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
      };
    });

    // ---- server with every periodic task `speedup` times faster: statements per minute of idle sockets
    const period = opts.idlePingInterval * opts.idlePingsPerUpdate;
    const gc = { intervalMs: Math.round(opts.defaultGcIntervalMs / speedup), thresholdMs: Math.round(opts.defaultGcThresholdMs / speedup) };
    const idleResult = await withPresenceServer(
      mode, `${mode}-idle#${run}`, { pingInterval: opts.idlePingInterval, pingsPerUpdate: opts.idlePingsPerUpdate, gc },
      async ({ server, db, table, authKey }) => {
        const storm = await load.request<ConnectResult>('connect', { port: server.port, n: N, prefix: `i${run}-`, authKey, concurrency: opts.concurrency, timeoutMs: connectTimeout }, connectTimeout + 10_000);
        checkStorm(`${mode} idle group`, storm);
        const idle = await load.request<IdleResult>('idle', { fraction: opts.idleFraction, concurrency: opts.concurrency, timeoutMs: 30_000 }, 40_000);
        if (idle.failed > 0) throw new Error(`setStatus idle failed for ${idle.failed} sockets: ${idle.errors.join('; ')}`);
        await until('idle group stored', 30_000, opts.pollMs, async () => {
          const t = await db.table(table);
          return t.rows === 3 * N && t.presence === N && t.idle === idle.idle;
        });
        await countReaches(server.counts, N, storm.t0, 30_000); // the delayed count publish is out of the window
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
        await load.request<DisconnectResult>('disconnect', { timeoutMs: 30_000 }, 40_000);
        await until('idle group gone', 30_000, 50, async () => (await db.table(table)).rows === 0);
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
        `${(result.idlePerMinQuestions ?? result.idlePerMinLogger).toFixed(1)} stmts/min idle, ` +
        `heap ${result.heapPerSocket.toFixed(0)} B/socket${plainHeap !== undefined ? ` (+${(result.heapPerSocket - plainHeap).toFixed(0)} over plain)` : ''}, ` +
        `hook p99 ${result.hookP99.toFixed(1)} ms, table exact ${result.tableExactConnectMs.toFixed(0)} / ${result.tableExactDisconnectMs.toFixed(0)} ms`,
    );
    return result;
  } finally {
    await stopChild(load);
  }
}

// ---------------------------------------------------------------- report

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(values: Array<number | undefined>): Stat | undefined {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

function fmtNum(x: number, digits: number): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cell(s: Stat | undefined, digits: number, unit = ''): string {
  if (!s) return 'n/a';
  const u = unit ? ` ${unit}` : '';
  if (s.n === 1 || s.min === s.max) return `${fmtNum(s.median, digits)}${u}`;
  return `**${fmtNum(s.median, digits)}**${u} (${fmtNum(s.min, digits)}–${fmtNum(s.max, digits)})`;
}

type Results = { plain: PlainRun[]; sqlite: PresenceRun[]; mariadb: PresenceRun[]; ratios: Record<'sqlite' | 'mariadb', number[]>; heapOver: Record<'sqlite' | 'mariadb', number[]> };

function verdict(s: Stat | undefined, ok: (x: number) => boolean): string {
  if (!s) return '—';
  return ok(s.median) ? 'met' : '**MISSED**';
}

function kindsList(runs: PresenceRun[], pick: (r: PresenceRun) => SqlCounters, perWhat: (x: number) => string): string[] {
  if (runs.length === 0) return [];
  const sums = new Map<string, number>();
  for (const r of runs) for (const [k, v] of Object.entries(pick(r).kinds)) sums.set(k, (sums.get(k) ?? 0) + v);
  return [...sums.entries()]
    .map(([k, v]) => [k, v / runs.length] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `  - \`${k}\`: ${perWhat(v)}`);
}

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim();
    return dirty ? `${head}, with uncommitted changes in src/ (the library was built from the working tree)` : head;
  } catch {
    return 'unknown';
  }
}

function report(results: Results, env: { mariadbVersion: string; load0: number[]; load1: number[]; errors: string[] }): { table: string; doc: string } {
  const { plain, sqlite, mariadb } = results;
  const row = (name: string, p: string, s: string, m: string, target: string, met: string) => `| ${name} | ${p} | ${s} | ${m} | ${target} | ${met} |`;
  const both = (f: (r: PresenceRun) => number | undefined) => [stat(sqlite.map(f)), stat(mariadb.map(f))] as const;
  const verdicts = (pair: readonly [Stat | undefined, Stat | undefined], ok: (x: number) => boolean) =>
    [pair[0] ? `SQLite ${verdict(pair[0], ok)}` : '', pair[1] ? `MariaDB ${verdict(pair[1], ok)}` : ''].filter(Boolean).join(', ') || '—';

  const throughput = [stat(plain.map((r) => r.throughput)), stat(sqlite.map((r) => r.throughput)), stat(mariadb.map((r) => r.throughput))];
  const ratio = [stat(results.ratios.sqlite), stat(results.ratios.mariadb)] as const;
  const lifeQ = [stat(sqlite.map((r) => r.lifecycleLogger)), stat(mariadb.map((r) => r.lifecycleQuestions))] as const;
  const lifeL = both((r) => r.lifecycleLogger);
  const idleQ = [stat(sqlite.map((r) => r.idlePerMinLogger)), stat(mariadb.map((r) => r.idlePerMinQuestions))] as const;
  const idleL = both((r) => r.idlePerMinLogger);
  const heapAll = [stat(plain.map((r) => r.heapPerSocket)), stat(sqlite.map((r) => r.heapPerSocket)), stat(mariadb.map((r) => r.heapPerSocket))];
  const heapOver = [stat(results.heapOver.sqlite), stat(results.heapOver.mariadb)] as const;
  const p50 = both((r) => r.hookP50);
  const p99 = both((r) => r.hookP99);
  const tConn = both((r) => r.tableExactConnectMs);
  const cConn = both((r) => r.countExactConnectMs);
  const tDisc = both((r) => r.tableExactDisconnectMs);
  const cDisc = both((r) => r.countExactDisconnectMs);

  const lines = [
    row('Figure (median of runs, **median** (min–max))', 'plain SC', 'presence, SQLite', 'presence, MariaDB', 'target', 'met?'),
    row('---', '---', '---', '---', '---', '---'),
    row('[1] connect + auth + subscribe throughput', cell(throughput[0], 0, 'sockets/s'), cell(throughput[1], 0, 'sockets/s'), cell(throughput[2], 0, 'sockets/s'), '—', '—'),
    row('[2] throughput ÷ plain (same run)', '1', cell(ratio[0], 2, '×'), cell(ratio[1], 2, '×'), '≥ 0.85×', verdicts(ratio, (x) => x >= 0.85)),
    row(`[3] SQL statements per socket lifecycle, ${N}-socket storm`, '—', cell(lifeQ[0], 3), cell(lifeQ[1], 3), '≤ 0.2', verdicts(lifeQ, (x) => x <= 0.2)),
    row('[4] … statements the module sent (its TypeORM logger)', '—', cell(lifeL[0], 3), cell(lifeL[1], 3), '≤ 0.2', verdicts(lifeL, (x) => x <= 0.2)),
    row(`[5] SQL statements per minute, ${N} idle sockets (scaled to the default 48 s period)`, '—', cell(idleQ[0], 1), cell(idleQ[1], 1), '≤ 10', verdicts(idleQ, (x) => x <= 10)),
    row('[6] … statements the module sent (its TypeORM logger)', '—', cell(idleL[0], 1), cell(idleL[1], 1), '≤ 10', verdicts(idleL, (x) => x <= 10)),
    row('[7] server heap growth per connected socket', cell(heapAll[0], 0, 'B'), cell(heapAll[1], 0, 'B'), cell(heapAll[2], 0, 'B'), '—', '—'),
    row('[8] heap per tracked socket, presence − plain', '—', cell(heapOver[0], 0, 'B'), cell(heapOver[1], 0, 'B'), '≤ 1 KB (1024 B)', verdicts(heapOver, (x) => x <= 1024)),
    row(`[9] disconnect → @OnUserOffline latency p50, ${opts.hookRate} disconnects/s`, '—', cell(p50[0], 1, 'ms'), cell(p50[1], 1, 'ms'), '—', '—'),
    row(`[10] disconnect → @OnUserOffline latency p99, ${opts.hookRate} disconnects/s`, '—', cell(p99[0], 1, 'ms'), cell(p99[1], 1, 'ms'), '≤ 100 ms', verdicts(p99, (x) => x <= 100)),
    row('[11] connect storm end → table exact', '—', cell(tConn[0], 0, 'ms'), cell(tConn[1], 0, 'ms'), '≤ 1 s', verdicts(tConn, (x) => x <= 1000)),
    row('[12] connect storm end → published count exact', '—', cell(cConn[0], 0, 'ms'), cell(cConn[1], 0, 'ms'), `— (includes connectDelayMs ${opts.defaultConnectDelayMs})`, '—'),
    row('[13] disconnect storm end → table exact (empty)', '—', cell(tDisc[0], 0, 'ms'), cell(tDisc[1], 0, 'ms'), '≤ 1 s', verdicts(tDisc, (x) => x <= 1000)),
    row('[14] disconnect storm end → published count exact (0)', '—', cell(cDisc[0], 0, 'ms'), cell(cDisc[1], 0, 'ms'), '—', '—'),
  ];
  const table = lines.join('\n');

  const cpus = os.cpus();
  const command = process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
    : `node --import tsx ${relative(ROOT, fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.trim();
  const header = [
    `# nestjs-sc-presence bench${opts.quick ? ' (--quick: a smoke run, not a measurement)' : ''}`,
    '',
    `- date: ${new Date(started).toISOString()}; took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    `- command: \`${command}\``,
    `- node ${process.version}; CPU: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length} cores (os.cpus()); memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free at the end`,
    `- library: dist/ built from ${gitDescription()}; MariaDB ${env.mariadbVersion}`,
    `- load average (1, 5, 15 min) at start ${env.load0.map((x) => x.toFixed(2)).join(', ')}, at end ${env.load1.map((x) => x.toFixed(2)).join(', ')}`,
    `- ${opts.runs} run(s) × modes ${opts.modes.join(', ')} (order rotated each run); ${N} sockets per storm, ${opts.concurrency} connecting at a time, ` +
      `2 channels each, ${idleCount} (${Math.round(opts.idleFraction * 100)} %) set idle; idle window ${opts.idleWindowMs} ms`,
    '',
  ];
  const notes = [
    '',
    'Notes (figure numbers as in the table; every figure is the median over the runs, min–max in brackets):',
    '',
    `- Machine: ${cpus.length} cores shared by the server, the load generator, this driver and MariaDB, and possibly by other test runs at the same time; ` +
      'absolute figures move with that load, ratios measured within one run much less. All traffic is on 127.0.0.1.',
    `- [1] ${N} sockets (each a distinct user presenting an HS256 token signed with the server's authKey at the handshake) connect, ` +
      'and subscribe to 2 channels; throughput = sockets ÷ (last subscribe acknowledged − first socket created), measured in the load process. ' +
      `plain SC = socketcluster-server alone with the same authKey and pingInterval (${opts.defaultPingInterval} ms). ` +
      '[2] is each run\'s presence throughput divided by the plain throughput of the same run. Target ≥ 0.85×.',
    '- [3] MariaDB: `SHOW GLOBAL STATUS LIKE \'Questions\'` delta from just before the connect storm to after the disconnect storm has been written ' +
      '(connect, auth, 2 subscriptions, 30 % setStatus idle, disconnect), minus every statement of the measuring connection ' +
      '(its table polls, and one SHOW as calibrated), ÷ sockets. It is server-wide: another client busy on the same MariaDB adds to it ' +
      '(compare with [4]). SQLite: the module\'s own statement count ([4]), as SQLite has no server counter. Includes the user count ' +
      'queries and any heartbeat or GC that fell in the window. Target ≤ 0.2.',
    '- [4], [6] statements sent by the module\'s own DataSource, counted by a TypeORM logger passed in `database.logger` (START TRANSACTION, ' +
      'SET TRANSACTION and COMMIT included): exact, and blind to other clients. Where MariaDB\'s [3] / [5] exceed them, the difference is ' +
      'other clients of the same server (other test runs; their rate is sampled under "Where the statements go").',
    `- [5] a second server with pingInterval ${opts.idlePingInterval} ms × pingsPerUpdate ${opts.idlePingsPerUpdate} = ${opts.idlePingInterval * opts.idlePingsPerUpdate} ms heartbeat period, ` +
      `i.e. ${speedup}× faster than the default 8000 ms × 6 = 48 s, and GC likewise ${speedup}× faster (gc.intervalMs ${Math.round(opts.defaultGcIntervalMs / speedup)}, gc.thresholdMs ${Math.round(opts.defaultGcThresholdMs / speedup)} ` +
      `instead of 60000 / 120000), holds ${N} connected, subscribed sockets (${idleCount} idle) and no traffic. Statements are counted over a ` +
      `${opts.idleWindowMs} ms window (MariaDB Questions minus the measuring connection; SQLite: the module's logger) and scaled: ` +
      `per default minute = count ÷ window × 60 s ÷ ${speedup}. As every periodic task runs ${speedup}× faster, the window stands for ${speedup}× its length at the defaults. Target ≤ 10.`,
    '- [7] in the server process after the storm, once the table is exact: `global.gc()` (4 passes, --expose-gc) then `process.memoryUsage().heapUsed`, ' +
      'minus the same reading taken before any socket connected, ÷ sockets. [8] = presence [7] − plain [7] of the same run: what tracking adds per socket, ' +
      'the fixed cost of Nest, TypeORM and the driver excluded by both subtractions. Target ≤ 1 KB.',
    `- [9], [10] another ${N} users connect; then the load process disconnects one socket every ${(1000 / opts.hookRate).toFixed(1)} ms ` +
      `(${opts.hookRate}/s on a fixed schedule) and records when it sent each disconnect; an @OnUserOffline() provider in the server records when the hook ran ` +
      '(both clocks are `performance.timeOrigin + performance.now()` of one machine). Latency = hook time − send time, per user. Target p99 ≤ 100 ms.',
    `- [11], [13] time from the end of the storm (the last subscribe acknowledged / the last disconnect sent) until a separate connection ` +
      `polling every ${opts.pollMs} ms sees exactly 3 rows per socket (1 presence + 2 channels) / no row. Target ≤ 1 s. ` +
      `[12], [14] until the published USERCOUNT (observed on the server's exchange) equals the number of users / 0. A join is published after ` +
      `usercount.connectDelayMs (default ${opts.defaultConnectDelayMs} ms, kept; startupQuietMs is set to 0 for the bench), a leave at once.` +
      ([cDisc[0], cDisc[1]].some((x) => x && x.median > opts.defaultConnectDelayMs / 2)
        ? ' [14] comes out near connectDelayMs: the publisher took the setStatus idle calls made just before the disconnect storm ' +
          'for joins and scheduled a delayed publish, which a leave does not bring forward.'
        : ''),
  ];

  const evidence: string[] = ['', '## Where the statements go (from the module\'s TypeORM logger, mean per run)', ''];
  for (const [mode, runs] of [['SQLite', sqlite], ['MariaDB', mariadb]] as const) {
    if (runs.length === 0) continue;
    const meanTotal = runs.reduce((a, r) => a + r.stormKinds.total, 0) / runs.length;
    const tx = runs.reduce((a, r) => a + (r.stormKinds.kinds['START TRANSACTION'] ?? 0) + (r.stormKinds.kinds['BEGIN TRANSACTION'] ?? 0), 0) / runs.length;
    evidence.push(
      `- ${mode}, storm of ${N} socket lifecycles: ${fmtNum(meanTotal, 0)} statements, ${fmtNum(tx, 0)} transactions ` +
        `(${fmtNum(meanTotal / Math.max(tx, 1), 1)} statements per transaction; ${fmtNum((4 * N + idleCount) / Math.max(tx, 1), 1)} socket events per transaction):`,
      ...kindsList(runs, (r) => r.stormKinds, (v) => `${fmtNum(v, 1)} (${fmtNum(v / N, 4)} per socket)`),
    );
    const idleTotal = runs.reduce((a, r) => a + r.idleKinds.total, 0) / runs.length;
    evidence.push(
      `- ${mode}, ${N} idle sockets: ${fmtNum(idleTotal, 1)} statements per default minute:`,
      ...kindsList(runs, (r) => r.idleKinds, (v) => `${fmtNum(v, 2)} per minute`),
    );
    if (mode === 'MariaDB') {
      const other = stat(runs.map((r) => r.otherClientsStorm));
      if (other) {
        evidence.push(`- MariaDB Questions during the storm not sent by the module or the measuring connection (other clients of the server): ${cell(other, 0)}`);
      }
    }
    const missing = runs.reduce((a, r) => a + r.hooksMissing, 0);
    const rate = stat(runs.map((r) => r.hookRateAchieved));
    const max = stat(runs.map((r) => r.hookMax));
    const hookTotal = runs.reduce((a, r) => a + r.hookKinds.total, 0) / runs.length;
    const hookTx = runs.reduce((a, r) => a + (r.hookKinds.kinds['START TRANSACTION'] ?? 0) + (r.hookKinds.kinds['BEGIN TRANSACTION'] ?? 0), 0) / runs.length;
    evidence.push(
      `- ${mode}, hook phase: disconnect rate achieved ${cell(rate, 0, '/s')}; slowest hook ${cell(max, 1, 'ms')}; hooks missing: ${missing}. ` +
        `Split of the latency: disconnect sent → server's 'disconnection' event p50 ${cell(stat(runs.map((r) => r.hookToServerP50)), 1, 'ms')}, ` +
        `p99 ${cell(stat(runs.map((r) => r.hookToServerP99)), 1, 'ms')}; 'disconnection' → hook p50 ${cell(stat(runs.map((r) => r.hookInServerP50)), 1, 'ms')}, ` +
        `p99 ${cell(stat(runs.map((r) => r.hookInServerP99)), 1, 'ms')}. ${fmtNum(hookTx, 0)} transactions for ${N} disconnects ` +
        `(${fmtNum(N / Math.max(hookTx, 1), 1)} per flush, ${fmtNum(hookTotal / Math.max(hookTx, 1), 1)} statements each).`,
    );
    const failed = new Map<string, number>();
    for (const r of runs) for (const [k, v] of Object.entries(r.failures)) failed.set(k, (failed.get(k) ?? 0) + v);
    evidence.push(
      failed.size === 0
        ? `- ${mode}: no statement failed during the whole run.`
        : `- ${mode}: statements that failed over all ${runs.length} run(s) (the store retries deadlocks): ` +
            [...failed.entries()].map(([k, v]) => `${k} × ${v}`).join('; '),
    );
    if (mode === 'MariaDB') {
      const bg = stat(runs.map((r) => r.backgroundQps));
      if (bg) evidence.push(`- MariaDB Questions per second from other clients before each run's servers started (1 s sample): ${cell(bg, 1)}`);
    }
  }
  const plainGrowth = plain.find((r) => r.heapGrowth)?.heapGrowth;
  const growthSections: string[] = [];
  for (const [mode, runs] of [['SQLite', sqlite], ['MariaDB', mariadb]] as const) {
    const growth = runs.find((r) => r.heapGrowth)?.heapGrowth;
    if (!growth || !plainGrowth) continue;
    const extra = diff(plainGrowth, growth); // presence growth − plain growth, per constructor
    const total = [...extra.values()].reduce((a, v) => a + v.size, 0) / N;
    growthSections.push(
      `- ${mode}: ${fmtNum(total, 0)} B per socket more than plain SC in the snapshots; the largest differences (bytes per socket, objects per socket, constructor):`,
      ...topPerSocket(extra, N, 15).map(({ key, bytes, count }) => `  - ${fmtNum(bytes, 0)} B, ${fmtNum(count, 2)} ×, \`${key}\``),
    );
  }
  if (growthSections.length > 0) {
    evidence.push(
      '', '## Where the heap per socket goes (first run: V8 heap snapshots before and after the storm, self sizes by constructor, presence minus plain)', '',
      ...growthSections,
    );
  }
  const profiles = [plain, sqlite, mariadb].map((runs) => (runs as PlainRun[]).find((r) => r.profile)?.profile);
  if (profiles[0] && (profiles[1] || profiles[2])) {
    const perK = (ms: number | undefined) => (ms === undefined ? '—' : fmtNum((ms / N) * 1000, 0));
    const keys = new Set(profiles.flatMap((p) => Object.keys(p?.categories ?? {})));
    const extra = (key: string) => Math.max(...[1, 2].map((i) => (profiles[i]?.categories[key] ?? 0) - (profiles[0]?.categories[key] ?? 0)));
    const total = (p?: ProfileSummary) => (p ? Object.values(p.categories).reduce((a, b) => a + b, 0) : undefined);
    evidence.push(
      '', `## Where the server's CPU goes in a connect storm (first run: an extra storm of ${N} sockets with the server profiled)`, '',
      `Self time on the server's main thread in ms per 1000 sockets (V8's sampling profiler, idle left out: a blocking native call such as ` +
        `SQLite's write and fsync counts as time), plain / SQLite / MariaDB, by where the code lives, largest presence − plain first. ` +
        `Total: ${perK(total(profiles[0]))} / ${perK(total(profiles[1]))} / ${perK(total(profiles[2]))}.`,
      '',
      ...[...keys].sort((a, b) => extra(b) - extra(a)).slice(0, 14).map((key) =>
        `- \`${key}\`: ${profiles.map((p) => perK(p ? (p.categories[key] ?? 0) : undefined)).join(' / ')}`),
    );
    for (const [label, p] of [['SQLite', profiles[1]], ['MariaDB', profiles[2]]] as const) {
      if (!p) continue;
      const base = profiles[0]?.functions ?? {};
      const top = Object.entries(p.functions)
        .map(([fn, ms]) => [fn, ms - (base[fn] ?? 0)] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10);
      if (top.length === 0) continue;
      evidence.push(`- ${label}: functions with the most self time over plain (ms per 1000 sockets): ` +
        top.map(([fn, ms]) => `\`${fn}\` +${perK(ms)}`).join('; '));
    }
  }
  evidence.push(
    '', '## CPU during the connect storm (first socket created → last subscribe acknowledged)', '',
    'Throughput on a machine that other work shares moves with that work; CPU time per socket much less. When the storm is ' +
      'CPU-bound, plain CPU ÷ presence CPU (server + load generator + database, same run) is what the throughput ratio tends to.',
    '',
  );
  for (const [mode, runs] of [['plain SC', plain], ['SQLite', sqlite], ['MariaDB', mariadb]] as const) {
    if (runs.length === 0) continue;
    const per = (pick: (c: Cpu) => number | undefined) => stat(runs.map((r) => { const v = pick(r.stormCpu); return v === undefined ? undefined : (v / N) * 1000; }));
    const busy = stat(runs.map((r) => (r.stormCpu.server + r.stormCpu.load + (r.stormCpu.db ?? 0)) / r.stormCpu.wall));
    const machine = stat(runs.map((r) => (r.stormCpu.machine === undefined ? undefined : r.stormCpu.machine / r.stormCpu.wall)));
    const total = (c: Cpu) => c.server + c.load + (c.db ?? 0);
    const ratios = mode === 'plain SC' ? [] : runs.map((r) => {
      const p = plain.find((x) => x.run === r.run);
      return p ? total(p.stormCpu) / total(r.stormCpu) : undefined;
    });
    const cpuRatio = stat(ratios);
    evidence.push(
      `- ${mode}: CPU ms per 1000 sockets: server ${cell(per((c) => c.server), 0)}, load generator ${cell(per((c) => c.load), 0)}` +
        `${mode === 'MariaDB' ? `, MariaDB ${cell(per((c) => c.db), 0)}` : ''}; cores busy with these processes ${cell(busy, 2)}, ` +
        `with all processes of the machine ${cell(machine, 2)}, of ${os.cpus().length}` +
        (cpuRatio ? `; plain CPU ÷ this CPU per socket ${cell(cpuRatio, 2, '×')}` : ''),
    );
  }
  if (env.errors.length > 0) evidence.push('', '## Errors', '', ...env.errors.map((e) => `- ${e}`));

  const doc = [...header, table, ...notes, ...evidence, ''].join('\n');
  return { table: [...header, table, ...notes].join('\n'), doc };
}

// ---------------------------------------------------------------- main

async function mariadbVersion(): Promise<string> {
  const ds = new DataSource({ type: 'mysql', url: opts.mysqlUrl });
  await ds.initialize();
  try {
    const [row] = (await ds.query('SELECT VERSION() AS v')) as Array<{ v: string }>;
    return row.v;
  } finally {
    await ds.destroy();
  }
}

async function main(): Promise<number> {
  const load0 = os.loadavg();
  const version = opts.modes.includes('mariadb') ? await mariadbVersion() : 'not used';
  const results: Results = { plain: [], sqlite: [], mariadb: [], ratios: { sqlite: [], mariadb: [] }, heapOver: { sqlite: [], mariadb: [] } };
  const errors: string[] = [];
  progress(`${opts.runs} run(s) of ${N} sockets, modes ${opts.modes.join(', ')}`);
  for (let run = 1; run <= opts.runs; run++) {
    const order = opts.modes.map((_, i) => opts.modes[(i + run - 1) % opts.modes.length]);
    let plainRun: PlainRun | undefined;
    const presenceRuns: Partial<Record<'sqlite' | 'mariadb', PresenceRun>> = {};
    for (const mode of order) {
      try {
        if (mode === 'plain') {
          plainRun = await runPlain(run);
          results.plain.push(plainRun);
        } else {
          const r = await runPresence(mode, run, plainRun?.heapPerSocket);
          presenceRuns[mode] = r;
          results[mode].push(r);
        }
      } catch (error) {
        const message = `run ${run}, ${mode}: ${(error as Error).message}`;
        errors.push(message);
        progress(`ERROR ${message}`);
      }
    }
    if (plainRun) {
      for (const mode of ['sqlite', 'mariadb'] as const) {
        const r = presenceRuns[mode];
        if (!r) continue;
        results.ratios[mode].push(r.throughput / plainRun.throughput);
        results.heapOver[mode].push(r.heapPerSocket - plainRun.heapPerSocket);
      }
    }
  }
  const { table, doc } = report(results, { mariadbVersion: version, load0, load1: os.loadavg(), errors });
  process.stdout.write(`\n${table}\n`);
  writeFileSync(opts.out, doc);
  process.stdout.write(`\nwritten to ${relative(ROOT, opts.out)}\n`);
  if (errors.length > 0) process.stdout.write(`\n${errors.length} error(s):\n${errors.map((e) => `- ${e}`).join('\n')}\n`);
  return errors.length > 0 ? 1 : 0;
}

main()
  .then(async (code) => {
    clearTimeout(watchdog);
    await cleanupEverything();
    process.exit(code);
  })
  .catch(async (error: Error) => {
    clearTimeout(watchdog);
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
    await cleanupEverything();
    process.exit(1);
  });
