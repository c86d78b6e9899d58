/**
 * What the driver measures itself: the table as another client sees it, MariaDB's Questions counter, polls
 * for a state to be reached, the published user count, percentiles and the CPU time of every process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { QuestionsMeter, type SqlCounters } from '../test/support/sql-counter.js';
import { now, sleep, type ConnectResult, type Peer } from './common.js';
import { opts } from './options.js';
import type { CountEvent } from './processes.js';

/**
 * A connection of its own to the server's database (what another service reading the table would have); on
 * MariaDB it also reads the global Questions counter, knowing what it sent itself.
 */
export class Outside extends QuestionsMeter {
  static async connectTo(kind: 'sqlite' | 'mariadb', sqliteFile?: string): Promise<Outside> {
    return new Outside(
      await QuestionsMeter.connect(
        kind === 'mariadb'
          ? { type: 'mysql', url: opts.mysqlUrl }
          : { type: 'better-sqlite3', database: sqliteFile!, readonly: true, timeout: 5000 },
      ),
    );
  }

  async table(name: string): Promise<{ rows: number; presence: number; idle: number }> {
    const [row] = await this.query<{ n: number | string; p: number | string | null; i: number | string | null }>(
      `SELECT COUNT(*) AS n, SUM(CASE WHEN SCP_channel = '_SCPRESENCE' THEN 1 ELSE 0 END) AS p,
              SUM(CASE WHEN SCP_channel = '_SCPRESENCE' AND SCP_status = 'idle' THEN 1 ELSE 0 END) AS i
       FROM \`${name}\``,
    );
    return { rows: Number(row.n), presence: Number(row.p ?? 0), idle: Number(row.i ?? 0) };
  }

  /** Presence rows whose session state is `json`, as stored. */
  async withState(name: string, json: string): Promise<number> {
    const [row] = await this.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM \`${name}\` WHERE SCP_channel = '_SCPRESENCE' AND SCP_state = ?`,
      [json],
    );
    return Number(row.n);
  }
}

/** Polls `probe` every `everyMs` until it returns true; resolves with the time of the poll that saw it. */
export async function until(what: string, timeoutMs: number, everyMs: number, probe: () => Promise<boolean> | boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return now();
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** When the published count became `expected` for good (the first of the trailing run of equal values). */
export async function countReaches(counts: CountEvent[], expected: number, after: number, timeoutMs: number): Promise<number> {
  await until(`published count ${expected}`, timeoutMs, 20, () => {
    const last = counts[counts.length - 1];
    return last !== undefined && last.value === expected && last.at >= after;
  });
  let i = counts.length - 1;
  while (i > 0 && counts[i - 1].value === expected && counts[i - 1].at >= after) i--;
  return counts[i].at;
}

export function diffCounters(before: SqlCounters, after: SqlCounters): SqlCounters {
  const kinds: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after.kinds)) {
    const d = n - (before.kinds[kind] ?? 0);
    if (d > 0) kinds[kind] = d;
  }
  return { total: after.total - before.total, kinds };
}

/** The median of `values` (the mean of the middle two for an even count); NaN without any. */
export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// CPU time of the processes involved, from their own reports and /proc.

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The MariaDB server's pid (to read its CPU time from /proc; it is not ours to stop). */
export function findDatabasePid(): number | undefined {
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

/** CPU time of a process (all its threads), or with `tid` of that one thread of it. */
function procCpuMs(pid: number | undefined, tid?: number): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000; // utime + stime
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine is nearly idle (less than `cores` of CPU busy over a window of `windowMs`), at most
 * `maxMs`: what one server's storm leaves running (its database purging the deleted rows, a collection, sockets
 * closing) must not fall on the next server's storm. Returns how long it waited.
 */
export async function untilQuiet(maxMs = 3000, cores = 0.3, windowMs = 200): Promise<number> {
  const t0 = now();
  let before = machineCpuMs();
  if (before === undefined) {
    await sleep(windowMs);
    return now() - t0;
  }
  while (now() - t0 < maxMs) {
    const w0 = now();
    await sleep(windowMs);
    const after = machineCpuMs();
    if (after === undefined || (after - before) / (now() - w0) < cores) break;
    before = after;
  }
  return now() - t0;
}

export interface Cpu {
  server: number;
  /**
   * The server's main thread alone (the JavaScript, and SQLite's writes, which better-sqlite3 runs there), when
   * readable; the rest of `server` is its other threads: V8's background compilers and garbage collector helpers,
   * libuv's pool.
   */
  serverMain?: number;
  load: number;
  db?: number;
  wall: number;
  /** CPU time of every process on the machine (from /proc/stat), when readable. */
  machine?: number;
  /** The server's main-thread pauses for scavenges, and for the other collections (part of `serverMain`). */
  gcMinor?: number;
  gcMajor?: number;
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

export async function cpuNow(server: Peer, load: Pick<Peer, 'request'>, dbPid?: number): Promise<Cpu> {
  const [s, l] = await Promise.all([
    server.request<NodeJS.CpuUsage & { gcMinorMs?: number; gcMajorMs?: number }>('cpu', {}, 5000),
    load.request<NodeJS.CpuUsage>('cpu', {}, 5000),
  ]);
  const pid = server.child.pid;
  return {
    server: (s.user + s.system) / 1000, serverMain: procCpuMs(pid, pid), load: (l.user + l.system) / 1000, db: procCpuMs(dbPid), wall: now(),
    machine: machineCpuMs(), gcMinor: s.gcMinorMs, gcMajor: s.gcMajorMs,
  };
}

export function cpuDiff(a: Cpu, b: Cpu): Cpu {
  const minus = (x?: number, y?: number) => (x !== undefined && y !== undefined ? y - x : undefined);
  return {
    server: b.server - a.server, serverMain: minus(a.serverMain, b.serverMain), load: b.load - a.load, db: minus(a.db, b.db), wall: b.wall - a.wall,
    machine: minus(a.machine, b.machine), gcMinor: minus(a.gcMinor, b.gcMinor), gcMajor: minus(a.gcMajor, b.gcMajor),
  };
}

export function checkStorm(what: string, result: ConnectResult): void {
  if (result.failed > 0 || result.notAuthenticated > 0) {
    throw new Error(`${what}: ${result.failed} sockets failed, ${result.notAuthenticated} not authenticated: ${result.errors.join('; ')}`);
  }
}
