/**
 * `npm run bench [-- options]`: the cost of presence tracking, measured with real processes on this machine.
 *
 * For each run and each mode (plain socketcluster-server, PresenceModule on SQLite, PresenceModule on MariaDB)
 * a server process (bench/server.ts) and a load process (bench/load.ts) are started; this process drives the
 * phases over IPC, watches the table through a connection of its own, and at the end prints one table (the
 * median of the runs, with min and max) and writes it to bench/results.md. After the runs, fresh servers of every
 * mode take their first storms side by side (fresh.ts), then one server of each mode, kept running, takes storms in
 * turns (running.ts). See bench/README.md.
 *
 * Options: --quick (1 run of 300 sockets, a short idle window), --sockets N, --runs N, --concurrency N,
 * --modes plain,sqlite,mariadb, --idle-window-ms N, --hook-rate N, --repeat-storms N, --fresh-rounds N, --out FILE; --scale (the curve, scale.ts)
 * with --scale-sockets a,b,c and --load-processes N.
 * Environment: PRESENCE_BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306/test),
 * PRESENCE_BENCH_LOG_SQL=1 (every statement of the module is written to bench/sql-<mode>-<run>-<phase>.log).
 *
 * The roles, one file each: options.ts (the command line), processes.ts (children and cleanup), runs.ts (the
 * phases of one run), running.ts (the running servers), measurements.ts (what this process measures itself),
 * report.ts (the table and notes).
 */
import os from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { writeFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { BENCH_DIR, N, ROOT, opts, progress, started } from './options.js';
import { cleanupEverything, watchdog } from './processes.js';
import { commandLine, report, type Results } from './report.js';
import { runFresh } from './fresh.js';
import { runRunning } from './running.js';
import { runPlain, runPresence, type PlainRun, type PresenceRun } from './runs.js';
import { openFileLimit, runScale, scaleSectionOf, writeScaleSection } from './scale.js';
import { scaleReport } from './scale-report.js';

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

async function scale(load0: number[], version: string): Promise<number> {
  const errors: string[] = [];
  progress(`scale: ${opts.scaleSockets.join(', ')} sockets, modes ${opts.modes.join(', ')}, ${opts.loadProcesses} load processes`);
  const points = await runScale(errors);
  // The full curve's charts go to docs/ (the README shows them); any other run's next to its results.
  const dir = opts.chartsToDocs ? join(ROOT, 'docs') : dirname(opts.out);
  const name = opts.chartsToDocs ? 'scale' : `${basename(opts.out, '.md')}-scale`;
  const charts = { hooks: join(dir, `${name}-hooks.svg`), perSocket: join(dir, `${name}-per-socket.svg`) };
  const links = { hooksLink: relative(dirname(opts.out), charts.hooks), perSocketLink: relative(dirname(opts.out), charts.perSocket) };
  const section = scaleReport(points, { command: commandLine(), load0, load1: os.loadavg(), openFiles: openFileLimit(), errors, mariadbVersion: version, started }, { ...charts, ...links });
  writeScaleSection(opts.out, section);
  process.stdout.write(`\n${section}\n\nwritten to ${relative(ROOT, opts.out)}, ${relative(ROOT, charts.hooks)}, ${relative(ROOT, charts.perSocket)}\n`);
  return errors.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const load0 = os.loadavg();
  const version = opts.modes.includes('mariadb') ? await mariadbVersion() : 'not used';
  if (opts.scale) return scale(load0, version);
  const results: Results = {
    plain: [], sqlite: [], mariadb: [], ratios: { sqlite: [], mariadb: [] }, heapOver: { sqlite: [], mariadb: [] },
    passThroughRatios: { plain: [], sqlite: [], mariadb: [] },
  };
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
        if (plainRun.passThrough) results.passThroughRatios[mode].push(r.throughput / plainRun.passThrough.throughput);
      }
      if (plainRun.passThrough) results.passThroughRatios.plain.push(plainRun.passThrough.throughput / plainRun.throughput);
    }
  }
  // A phase that fails is reported with the others' results rather than ending the bench.
  const attempt = async <T>(phase: string, body: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await body();
    } catch (error) {
      const message = `${phase}: ${(error as Error).message}`;
      errors.push(message);
      progress(`ERROR ${message}`);
      return undefined;
    }
  };
  results.fresh = await attempt('fresh servers', runFresh);
  results.running = await attempt('running servers', runRunning);
  const { table, doc } = report(results, { mariadbVersion: version, load0, load1: os.loadavg(), errors });
  process.stdout.write(`\n${table}\n`);
  // The curve's section, written by a --scale run, stays.
  const kept = scaleSectionOf(opts.out);
  writeFileSync(opts.out, kept ? `${doc.trimEnd()}\n\n${kept}` : doc);
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
