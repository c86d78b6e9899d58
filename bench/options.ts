/**
 * The bench's options (`npm run bench -- --quick`, …, see bench/README.md), parsed once from the command line
 * and the environment, and the figures derived from them.
 */
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..');
export const started = Date.now();

export type Mode = 'plain' | 'sqlite' | 'mariadb';
export const ALL_MODES: Mode[] = ['plain', 'sqlite', 'mariadb'];

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    'scale-sockets': { type: 'string' },
    'load-processes': { type: 'string' },
    sockets: { type: 'string' },
    runs: { type: 'string' },
    concurrency: { type: 'string' },
    modes: { type: 'string' },
    'idle-window-ms': { type: 'string' },
    'hook-rate': { type: 'string' },
    out: { type: 'string' },
    'repeat-storms': { type: 'string' },
    'fresh-rounds': { type: 'string' },
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
const scale = argv.scale === true;
function listOption(name: string, raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined) return fallback;
  return raw.split(',').map((part) => intOption(name, part.trim(), 0, 10));
}
export const opts = {
  quick,
  /** The curve: one run of each mode at each size in `scaleSockets` (bench/scale.ts). */
  scale,
  scaleSockets: listOption('scale-sockets', argv['scale-sockets'], quick ? [300, 600] : [1000, 4000, 16_000]),
  /** Load generator processes, each with its share of the sockets: with many sockets one would be the bottleneck. */
  loadProcesses: intOption('load-processes', argv['load-processes'], scale ? 3 : 1, 1),
  sockets: intOption('sockets', argv.sockets, quick ? 300 : 2000, 10),
  /** 0: only the running servers ([1b], [2b]). */
  runs: intOption('runs', argv.runs, quick || scale ? 1 : 5, 0),
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
  heapSnapshots: process.env.PRESENCE_BENCH_HEAP_SNAPSHOT ? process.env.PRESENCE_BENCH_HEAP_SNAPSHOT === '1' : !quick && !scale,
  /** An extra connect storm in the first run with the server's CPU profiled, summarised by package as evidence. */
  cpuProfile: process.env.PRESENCE_BENCH_CPU_PROFILE ? process.env.PRESENCE_BENCH_CPU_PROFILE === '1' : !quick && !scale,
  /**
   * Rounds of the running servers ([1b], [2b], running.ts): after the runs, one server of each mode takes a storm of
   * the same size in turn, once per round. The curve leaves them out.
   */
  repeatStorms: scale ? 0 : intOption('repeat-storms', argv['repeat-storms'], quick ? 2 : 24, 0),
  /**
   * Rounds of fresh servers side by side ([1c], [2c], fresh.ts): fresh servers of every mode, warmed up, take their
   * first storms within seconds of each other. Two cycles of the Williams order of 4 kinds. The curve leaves them out.
   */
  freshRounds: scale ? 0 : intOption('fresh-rounds', argv['fresh-rounds'], quick ? 1 : 8, 0),
  /** A second plain server with a pass-through inbound middleware in each plain run ([2a]); the curve leaves it out. */
  passThroughPlain: !scale,
  /** The idle-window phase (statements per minute of idle sockets); the curve leaves it out. */
  idlePhase: !scale,
  /**
   * The session state phase ([15]–[18]); the curve leaves it out too. Its figures are not on the curve, and at 16k
   * sockets its 160,000 calls overloaded a 2-core machine for long enough to skew the hook latency phase after it.
   */
  statePhase: !scale,
  out: argv.out ?? join(BENCH_DIR, quick ? 'results-quick.md' : 'results.md'),
  /** The curve's charts go to docs/ (which the README shows) from a full run into bench/results.md only. */
  chartsToDocs: !quick && argv.out === undefined,
  pollMs: 10,
};
for (const mode of opts.modes) if (!ALL_MODES.includes(mode)) throw new Error(`--modes: unknown mode '${mode}' (known: ${ALL_MODES.join(', ')})`);
/** How much faster than the defaults the idle-window server runs its periodic tasks. */
export const speedup = (opts.defaultPingInterval * opts.defaultPingsPerUpdate) / (opts.idlePingInterval * opts.idlePingsPerUpdate);

/** Sockets per storm (the curve sets it for each of its sizes, see setSockets). */
export let N = opts.sockets;
/** Sockets set idle in each storm (the load generator's pick). */
export let idleCount = 0;
export let connectTimeout = 0;
/** A wait of `ms` for 2,000 sockets, longer in proportion for more (a 16k storm takes longer to write and to end). */
export const waitFor = (ms: number) => Math.round(ms * Math.max(1, N / 2000));

export function setSockets(n: number): void {
  N = n;
  const every = Math.round(opts.idleFraction * 10);
  idleCount = every * Math.floor(N / 10) + Math.min(N % 10, every);
  connectTimeout = 30_000 + N * 20;
}
setSockets(opts.sockets);
/** A line on stderr with the time since the start. */
export const progress = (line: string) => process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  ${line}\n`);
