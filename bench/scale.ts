/**
 * `npm run bench -- --scale`: the curve. `--runs` runs (default 1) of each mode (plain, SQLite, MariaDB) at each
 * size of `--scale-sockets` (default 1k, 4k, 16k), each figure the median of its runs, the same phases as the bench (runs.ts) but the idle window, with
 * several load generator processes (`--load-processes`, default 3). The table goes into a section of its own in
 * bench/results.md (the rest of the file is kept), the charts into docs/ (see scale-report.ts).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { N, opts, progress, setSockets } from './options.js';
import { runPlain, runPresence, type PlainRun, type PresenceRun } from './runs.js';
import { stat } from './report.js';

export interface ScalePoint {
  sockets: number;
  plain?: PlainRun;
  sqlite?: PresenceRun;
  mariadb?: PresenceRun;
  /** Each run's offline-hook p99, in run order: a tail that one run of several shows is hidden by the median. */
  hookP99Runs: { sqlite: number[]; mariadb: number[] };
}

/** The limit on open files of the bench's processes (each socket is one, in the server and in a load process). */
export function openFileLimit(): string {
  try {
    return execFileSync('sh', ['-c', 'ulimit -n']).toString().trim();
  } catch {
    return 'unknown';
  }
}

export async function runScale(errors: string[]): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  const limit = Number(openFileLimit());
  for (const [i, sockets] of opts.scaleSockets.entries()) {
    setSockets(sockets);
    const point: ScalePoint = { sockets, hookP99Runs: { sqlite: [], mariadb: [] } };
    points.push(point);
    // The server holds every socket, a load process its share, and each needs some files of its own.
    if (Number.isFinite(limit) && sockets + 200 > limit) {
      errors.push(`${sockets} sockets: not run, the open file limit (ulimit -n) is ${limit}`);
      continue;
    }
    progress(`scale: ${N} sockets, ${opts.loadProcesses} load process(es)`);
    const runs: { plain: PlainRun[]; sqlite: PresenceRun[]; mariadb: PresenceRun[] } = { plain: [], sqlite: [], mariadb: [] };
    for (let run = 1; run <= opts.runs; run++) {
      const id = i * opts.runs + run;
      for (const mode of opts.modes) {
        try {
          if (mode === 'plain') runs.plain.push(await runPlain(id));
          else runs[mode].push(await runPresence(mode, id, runs.plain.at(-1)?.heapPerSocket));
        } catch (error) {
          const message = `${sockets} sockets, ${mode}, run ${run}: ${(error as Error).message}`;
          errors.push(message);
          progress(`ERROR ${message}`);
        }
      }
    }
    if (runs.plain.length > 0) point.plain = medianRun(runs.plain);
    if (runs.sqlite.length > 0) point.sqlite = medianRun(runs.sqlite);
    if (runs.mariadb.length > 0) point.mariadb = medianRun(runs.mariadb);
    point.hookP99Runs = { sqlite: runs.sqlite.map((r) => r.hookP99), mariadb: runs.mariadb.map((r) => r.hookP99) };
  }
  return points;
}

/**
 * One run whose every number is the median of that number over `runs` (nested objects alike); whatever is not a
 * number in every run (texts, lists) is the first run's.
 */
export function medianRun<T extends object>(runs: T[]): T {
  if (runs.length === 1) return runs[0];
  const out = { ...runs[0] } as Record<string, unknown>;
  for (const key of Object.keys(out)) {
    const values = runs.map((run) => (run as Record<string, unknown>)[key]);
    if (values.every((v) => typeof v === 'number')) out[key] = stat(values as number[])?.median ?? values[0];
    else if (values.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) out[key] = medianRun(values as object[]);
  }
  return out as T;
}

const BEGIN = '<!-- scale: written by npm run bench -- --scale -->';
const END = '<!-- /scale -->';

/** Puts the curve's section into `file`, keeping everything else in it. */
export function writeScaleSection(file: string, section: string): void {
  const block = `${BEGIN}\n${section.trim()}\n${END}\n`;
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  writeFileSync(file, at >= 0 && end > at ? old.slice(0, at) + block + old.slice(end + END.length + 1) : `${old.trimEnd()}${old ? '\n\n' : ''}${block}`);
}

/** The curve's section of `file`, if a scale run wrote one, so that the bench's own run can keep it. */
export function scaleSectionOf(file: string): string {
  if (!existsSync(file)) return '';
  const old = readFileSync(file, 'utf8');
  const at = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  return at >= 0 && end > at ? old.slice(at, end + END.length) + '\n' : '';
}
