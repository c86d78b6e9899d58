/**
 * `npm run bench -- --scale`: the curve. One run of each mode (plain, SQLite, MariaDB) at each size of
 * `--scale-sockets` (default 1k, 4k, 16k), the same phases as the bench (runs.ts) but the idle window, with
 * several load generator processes (`--load-processes`, default 3). The table goes into a section of its own in
 * bench/results.md (the rest of the file is kept), the charts into docs/ (see scale-report.ts).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { N, opts, progress, setSockets } from './options.js';
import { runPlain, runPresence, type PlainRun, type PresenceRun } from './runs.js';

export interface ScalePoint {
  sockets: number;
  plain?: PlainRun;
  sqlite?: PresenceRun;
  mariadb?: PresenceRun;
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
    const point: ScalePoint = { sockets };
    points.push(point);
    // The server holds every socket, a load process its share, and each needs some files of its own.
    if (Number.isFinite(limit) && sockets + 200 > limit) {
      errors.push(`${sockets} sockets: not run, the open file limit (ulimit -n) is ${limit}`);
      continue;
    }
    progress(`scale: ${N} sockets, ${opts.loadProcesses} load process(es)`);
    for (const mode of opts.modes) {
      try {
        if (mode === 'plain') point.plain = await runPlain(i + 1);
        else point[mode] = await runPresence(mode, i + 1, point.plain?.heapPerSocket);
      } catch (error) {
        const message = `${sockets} sockets, ${mode}: ${(error as Error).message}`;
        errors.push(message);
        progress(`ERROR ${message}`);
      }
    }
  }
  return points;
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
