/**
 * Where the time of a ramp step goes: CPU of this process (every simulated instance shares its event loop)
 * and of the database server process, and on MariaDB the server's own counters (commits, redo log fsyncs,
 * row lock waits between the instances). Read before and after a step; the report shows the deltas.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { PresenceStore } from '../src/store/presence.store.js';

export interface StepResources {
  /** CPU of the bench process, in % of one core. */
  benchCpu: number;
  /** CPU of mariadbd, in % of one core (NaN when its process cannot be read, or on SQLite). */
  serverCpu: number;
  commitsPerSec: number;
  fsyncsPerSec: number;
  rowLockWaits: number;
  rowLockMs: number;
  deadlocks: number;
}

const COUNTERS = ['Com_commit', 'Innodb_data_fsyncs', 'Innodb_row_lock_waits', 'Innodb_row_lock_time', 'Innodb_deadlocks'] as const;
type Counters = Record<(typeof COUNTERS)[number], number>;

function serverPid(): number | undefined {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      return Number(execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).split('\n')[0]);
    } catch {
      // not running under this name
    }
  }
  return undefined;
}

/** utime + stime of a process, in ms. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s (USER_HZ)
}

export class ResourceProbe {
  private readonly pid = serverPid();
  private start?: { at: number; cpu: NodeJS.CpuUsage; server: number; counters?: Counters };

  constructor(private readonly store: PresenceStore) {}

  private async counters(): Promise<Counters | undefined> {
    if (this.store.isSqlite) return undefined;
    const rows = (await this.store.connection.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${COUNTERS.map((c) => `'${c}'`).join(', ')})`)) as Array<{ Variable_name: string; Value: string }>;
    return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)])) as Counters;
  }

  private serverMs(): number {
    try {
      return this.pid && !this.store.isSqlite ? processCpuMs(this.pid) : NaN;
    } catch {
      return NaN;
    }
  }

  async begin(): Promise<void> {
    this.start = { at: performance.now(), cpu: process.cpuUsage(), server: this.serverMs(), counters: await this.counters() };
  }

  async end(): Promise<StepResources> {
    const s = this.start!;
    const counters = await this.counters();
    const ms = performance.now() - s.at;
    const cpu = process.cpuUsage(s.cpu);
    const delta = (c: (typeof COUNTERS)[number]) => (counters && s.counters ? counters[c] - s.counters[c] : NaN);
    return {
      benchCpu: ((cpu.user + cpu.system) / 1000 / ms) * 100,
      serverCpu: ((this.serverMs() - s.server) / ms) * 100,
      commitsPerSec: (delta('Com_commit') / ms) * 1000,
      fsyncsPerSec: (delta('Innodb_data_fsyncs') / ms) * 1000,
      rowLockWaits: delta('Innodb_row_lock_waits'),
      rowLockMs: delta('Innodb_row_lock_time'),
      deadlocks: delta('Innodb_deadlocks'),
    };
  }
}
