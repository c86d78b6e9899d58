/**
 * The bench's table (the median of the runs, with min and max, against the targets), the notes on how each
 * figure is measured, and the evidence behind them (statements by kind, heap growth, CPU profile).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { join, relative } from 'node:path';
import type { SqlCounters } from '../test/support/sql-counter.js';
import { diff, topPerSocket } from './heap-diff.js';
import { median, type Cpu } from './measurements.js';
import { BENCH_DIR, N, ROOT, idleCount, opts, speedup, started } from './options.js';
import type { FreshResult } from './fresh.js';
import type { RunningKind, RunningResult } from './running.js';
import { STATE_TIMES, stateSpreadMs, type PlainRun, type PresenceRun, type ProfileSummary } from './runs.js';

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stat(values: Array<number | undefined>): Stat | undefined {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return { median: median(v), min: v[0], max: v[v.length - 1], n: v.length };
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

/** ", of which its main thread M" after a server's CPU, when the main thread could be read on its own. */
const mainOf = (s: Stat | undefined): string => (s ? `, of which its main thread ${cell(s, 0)}` : '');
const gcOf = (minor: Stat | undefined, major: Stat | undefined): string =>
  minor && major ? ` (paused for scavenges ${cell(minor, 0)}, for other collections ${cell(major, 0)})` : '';

export type Results = {
  plain: PlainRun[];
  sqlite: PresenceRun[];
  mariadb: PresenceRun[];
  ratios: Record<'sqlite' | 'mariadb', number[]>;
  heapOver: Record<'sqlite' | 'mariadb', number[]>;
  /** First storms ÷ the first storm of plain with a pass-through middleware; `plain`: that server ÷ plain. */
  passThroughRatios: Record<'plain' | 'sqlite' | 'mariadb', number[]>;
  /** Fresh servers taking their first storms side by side after the runs (fresh.ts). */
  fresh?: FreshResult;
  /** The running servers, taking storms in turns after the runs (running.ts). */
  running?: RunningResult;
};

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

function describeCheckout(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim();
    return dirty ? `${head}, with uncommitted changes in src/ (the library was built from the working tree)` : head;
  } catch {
    return 'unknown';
  }
}

/** Read when the bench starts, just after `npm run build`: what dist/ was built from, whatever changes after. */
const builtFrom = describeCheckout();

/** The command that produced the results, as the user typed it. */
export function commandLine(): string {
  return process.env.npm_lifecycle_event === 'bench'
    ? `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
    : `node --import tsx ${relative(ROOT, join(BENCH_DIR, 'run.ts'))} ${process.argv.slice(2).join(' ')}`.trim();
}

export function report(results: Results, env: { mariadbVersion: string; load0: number[]; load1: number[]; errors: string[] }): { table: string; doc: string } {
  const { plain, sqlite, mariadb } = results;
  const row = (name: string, p: string, s: string, m: string, target: string, met: string) => `| ${name} | ${p} | ${s} | ${m} | ${target} | ${met} |`;
  const both = (f: (r: PresenceRun) => number | undefined) => [stat(sqlite.map(f)), stat(mariadb.map(f))] as const;
  const verdicts = (pair: readonly [Stat | undefined, Stat | undefined], ok: (x: number) => boolean) =>
    [pair[0] ? `SQLite ${verdict(pair[0], ok)}` : '', pair[1] ? `MariaDB ${verdict(pair[1], ok)}` : ''].filter(Boolean).join(', ') || '—';

  const throughput = [stat(plain.map((r) => r.throughput)), stat(sqlite.map((r) => r.throughput)), stat(mariadb.map((r) => r.throughput))];
  const ratio = [stat(results.ratios.sqlite), stat(results.ratios.mariadb)] as const;
  const { passThroughRatios: mw, running, fresh } = results;
  const freshThroughput = (['plain', 'sqlite', 'mariadb'] as const).map((kind) => stat(fresh?.throughputs[kind] ?? []));
  const freshRatio = [stat(fresh?.ratios.sqlite ?? []), stat(fresh?.ratios.mariadb ?? [])] as const;
  const freshMw = stat(fresh?.ratios['plain-mw'] ?? []);
  const freshRounds = fresh?.rounds ?? 0;
  const mwRatio = [stat(mw.plain), stat(mw.sqlite), stat(mw.mariadb)];
  const runningThroughput = (['plain', 'sqlite', 'mariadb'] as const).map((kind) => stat(running?.throughputs[kind] ?? []));
  const runningRatio = [stat(running?.ratios.sqlite ?? []), stat(running?.ratios.mariadb ?? [])] as const;
  const runningMw = stat(running?.ratios['plain-mw'] ?? []);
  const rounds = running?.rounds ?? 0;
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
  const stateQ = [stat(sqlite.map((r) => r.statePerChangeLogger)), stat(mariadb.map((r) => r.statePerChangeQuestions))] as const;
  const stateL = both((r) => r.statePerChangeLogger);
  const stateStored = both((r) => r.stateStoredMs);
  const stateLate = both((r) => r.stateLate);
  const heapState = [stat(sqlite.map((r) => r.heapPerSocketWithState)), stat(mariadb.map((r) => r.heapPerSocketWithState))] as const;
  const heapStateExtra = both((r) => r.heapPerState);

  const lines = [
    row('Figure (median of runs, **median** (min–max))', 'plain SC', 'presence, SQLite', 'presence, MariaDB', 'target', 'met?'),
    row('---', '---', '---', '---', '---', '---'),
    row('[1] connect + auth + subscribe throughput', cell(throughput[0], 0, 'sockets/s'), cell(throughput[1], 0, 'sockets/s'), cell(throughput[2], 0, 'sockets/s'), '—', '—'),
    row('[2] throughput ÷ plain (same run)', '1', cell(ratio[0], 2, '×'), cell(ratio[1], 2, '×'), '≥ 0.90×', verdicts(ratio, (x) => x >= 0.9)),
    row('[2a] throughput ÷ plain with a pass-through inbound middleware (same run)', mwRatio[0] ? `${cell(mwRatio[0], 2, '×')} (that server ÷ plain)` : '—', cell(mwRatio[1], 2, '×'), cell(mwRatio[2], 2, '×'), '—', '—'),
    row(`[1c] first storm of fresh servers side by side (median of ${freshRounds} round${freshRounds === 1 ? '' : 's'}, storms seconds apart)`, cell(freshThroughput[0], 0, 'sockets/s'), cell(freshThroughput[1], 0, 'sockets/s'), cell(freshThroughput[2], 0, 'sockets/s'), '—', '—'),
    row('[2c] fresh servers side by side: throughput ÷ plain (same round)', freshMw ? `1; with a pass-through middleware ${cell(freshMw, 2, '×')}` : '1', cell(freshRatio[0], 2, '×'), cell(freshRatio[1], 2, '×'), '≥ 0.90×', verdicts(freshRatio, (x) => x >= 0.9)),
    row(`[1b] throughput of a running server (median of ${rounds} storm${rounds === 1 ? '' : 's'} each, servers taking turns)`, cell(runningThroughput[0], 0, 'sockets/s'), cell(runningThroughput[1], 0, 'sockets/s'), cell(runningThroughput[2], 0, 'sockets/s'), '—', '—'),
    row('[2b] running server: throughput ÷ plain (same round)', runningMw ? `1; with a pass-through middleware ${cell(runningMw, 2, '×')}` : '1', cell(runningRatio[0], 2, '×'), cell(runningRatio[1], 2, '×'), '≥ 0.90×', verdicts(runningRatio, (x) => x >= 0.9)),
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
    row(`[15] SQL statements per session state change, ${N} sockets × ${STATE_TIMES} setState in ${stateSpreadMs(N) / 1000} s`, '—', cell(stateQ[0], 4), cell(stateQ[1], 4), '≤ 0.1', verdicts(stateQ, (x) => x <= 0.1)),
    row('[16] … statements the module sent (its TypeORM logger)', '—', cell(stateL[0], 4), cell(stateL[1], 4), '≤ 0.1', verdicts(stateL, (x) => x <= 0.1)),
    row('[17] first setState sent → every last state stored', '—', cell(stateStored[0], 0, 'ms'), cell(stateStored[1], 0, 'ms'), '—', '—'),
    row(`[18] setState calls answered late, of ${N * STATE_TIMES}`, '—', cell(stateLate[0], 0), cell(stateLate[1], 0), '0', verdicts(stateLate, (x) => x === 0)),
    row('[19] server heap growth per connected socket with its state set', '—', cell(heapState[0], 0, 'B'), cell(heapState[1], 0, 'B'), '—', '—'),
    row('[20] … of which the states (heap after the state phase − just before it)', '—', cell(heapStateExtra[0], 0, 'B'), cell(heapStateExtra[1], 0, 'B'), '—', '—'),
  ];
  const table = lines.join('\n');

  const cpus = os.cpus();
  const command = commandLine();
  const header = [
    `# nestjs-sc-presence bench${opts.quick ? ' (--quick: a smoke run, not a measurement)' : ''}`,
    '',
    `- date: ${new Date(started).toISOString()}; took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    `- command: \`${command}\``,
    `- node ${process.version}; CPU: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length} cores (os.cpus()); memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free at the end`,
    `- library: dist/ built from ${builtFrom}; MariaDB ${env.mariadbVersion}`,
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
      `plain SC = socketcluster-server alone with the same authKey and pingInterval (${opts.defaultPingInterval} ms)` +
      (process.env.PRESENCE_BENCH_PLAIN_SECRET_KEY !== '0'
        ? ', its authKey held as a secret KeyObject as the module\'s attached server holds it (so [2] is what tracking adds, not the key conversion the module saves on every verify). '
        : ', its authKey a string (PRESENCE_BENCH_PLAIN_SECRET_KEY=0): [2] includes the key conversion on every verify that the module\'s attached server saves. ') +
      '[2] is each run\'s presence throughput divided by the plain throughput of the same run. Target ≥ 0.90×. ' +
      'Each server is a fresh process (warmed up by 100 sockets), as after a deploy: its storm also pays for the code V8 compiles on first use, which is more for presence. ' +
      'The storm starts once the machine is quiet after the warm-up and the heap reading (less than 0.3 of a core busy, at most 3 s), as in [1c] and [1b]. ' +
      '[2a] the same against a second plain server whose inbound middleware allows every action (`for await (const action of stream) action.allow()`, ' +
      'the usual shape of an app\'s own middleware): SocketCluster then makes a stream per socket and a promise per action, a cost of any app with middleware; ' +
      'in the plain column, that server ÷ plain. ' +
      `[1c] after the runs, ${freshRounds} round${freshRounds === 1 ? '' : 's'} of fresh servers side by side: in each, one fresh server of every kind (plain, plain with the pass-through middleware, presence on SQLite and on MariaDB), ` +
      'each with a fresh load process of its own, is started and warmed up by 100 sockets as in the runs; then each takes its first storm, one right after another, ' +
      'each after a wait for a quiet machine, in the Williams order described for [1b]. [2c] is the median over the rounds of each round\'s first-storm throughput ÷ plain\'s: ' +
      'the same quantity as [2], without the minute or more between the storms it divides (each mode\'s run has its other phases in between), over which the machine\'s speed drifts. Target ≥ 0.90×. ' +
      '[1b] after the runs, one server of each kind (plain, plain with the pass-through middleware, presence on SQLite and on MariaDB) is up at once; ' +
      `each takes the warm-up and ${N}-socket storms until its code is compiled, then ${rounds} round${rounds === 1 ? '' : 's'} in which each server in turn takes one storm of ${N} sockets ` +
      'from the same load process: connected and, for presence, stored; disconnected and removed. Each storm first waits (at most 3 s) until the machine uses less than 0.3 of a core, and the rounds\' orders ' +
      'are a Williams design, in which each server comes right after each other one equally often: what a storm leaves running (MariaDB purging the rows just deleted) ' +
      'then falls on every server alike. [1b] is the median of a server\'s storms: the throughput of a server that has been running. ' +
      '[2b] is the median over the rounds of each round\'s throughput ÷ plain\'s in the same round (storms seconds apart, so drift of the machine falls on both); in the plain column, the pass-through server\'s. ' +
      'These servers never have their heap read, so no forced full collection (which a server in production never has) falls between their storms. Target ≥ 0.90×.',
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
      '(both read the system clock, `Date.now()`, of one machine). Latency = hook time − send time, per user. Target p99 ≤ 100 ms.',
    `- [11], [13] time from the end of the storm (the last subscribe acknowledged / the last disconnect sent) until a separate connection ` +
      `polling every ${opts.pollMs} ms sees exactly 3 rows per socket (1 presence + 2 channels) / no row. Target ≤ 1 s. ` +
      `[12], [14] until the published USERCOUNT (observed on the server's exchange) equals the number of users / 0. A join is published after ` +
      `usercount.connectDelayMs (default ${opts.defaultConnectDelayMs} ms, kept; startupQuietMs is set to 0 for the bench), a leave at once.` +
      ([cDisc[0], cDisc[1]].some((x) => x && x.median > opts.defaultConnectDelayMs / 2)
        ? ' [14] comes out near connectDelayMs: the publisher took the setStatus idle calls made just before the disconnect storm ' +
          'for joins and scheduled a delayed publish, which a leave does not bring forward.'
        : ''),
    `- [15], [16] the ${N} sockets of the hook latency group, connected and stored, each invoke \`presence.setState\` ${STATE_TIMES} times within ` +
      `${stateSpreadMs(N)} ms without waiting for the answers (about 90 bytes of JSON each; the calls of the group spread evenly over the window), ` +
      `${N * STATE_TIMES} changes in all. Statements from just before the first call until every socket's last state is stored, as for [3] / [4], ` +
      '÷ changes. A socket\'s state is written at most once per `limits.statusIntervalMs` (default 1 s), the writes of many sockets in one batch. ' +
      'The bench has no channel presence: with it, each flush also reads and writes the members of the users\' rooms. Target ≤ 0.1. ' +
      '[17] until a separate connection polling the table sees every last state. [19] the reading of [7] taken then, over the same number ' +
      'of sockets; [20] that reading minus one taken with the same sockets just before the state phase, ÷ sockets: what a state set adds per socket. ' +
      '[18] calls rejected as not stored within `statementTimeoutMs` (5 s), or not answered within the client\'s 10 s ack timeout: on an ' +
      'overloaded machine the server falls behind the calls; the states are written all the same ([17] waits for every last one). Target 0.',
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
    const stateTotal = runs.reduce((a, r) => a + r.stateKinds.total, 0) / runs.length;
    evidence.push(
      `- ${mode}, ${N * STATE_TIMES} session state changes: ${fmtNum(stateTotal, 1)} statements:`,
      ...kindsList(runs, (r) => r.stateKinds, (v) => `${fmtNum(v, 1)} (${fmtNum(v / (N * STATE_TIMES), 4)} per change)`),
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
  const stateSections: string[] = [];
  for (const [mode, runs] of [['SQLite', sqlite], ['MariaDB', mariadb]] as const) {
    const growth = runs.find((r) => r.stateHeapGrowth)?.stateHeapGrowth;
    if (!growth) continue;
    const total = [...growth.values()].reduce((a, v) => a + v.size, 0) / N;
    stateSections.push(
      `- ${mode}: ${fmtNum(total, 0)} B per socket in the snapshots; the largest differences (bytes per socket, objects per socket, constructor):`,
      ...topPerSocket(growth, N, 12).map(({ key, bytes, count }) => `  - ${fmtNum(bytes, 0)} B, ${fmtNum(count, 2)} ×, \`${key}\``),
    );
  }
  if (stateSections.length > 0) {
    evidence.push(
      '', '## Where the heap of a session state goes (first run: V8 heap snapshots just before and after the state phase, self sizes by constructor)', '',
      ...stateSections,
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
      'CPU-bound, plain CPU ÷ presence CPU (server + load generator + database, same run) is what the throughput ratio tends to. ' +
      "The server's CPU is all its threads; its main thread runs the JavaScript (and better-sqlite3's writes), the others are " +
      "V8's background compilers and garbage collector helpers and libuv's pool: in a fresh process's first storm they compile " +
      'the code that has just become hot, which the running servers below have done already. In brackets, the main ' +
      "thread's pauses for garbage collection (Node's `gc` performance entries): scavenges of the young generation, and the " +
      'rest (full collections and the steps of incremental marking).',
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
      `- ${mode}: CPU ms per 1000 sockets: server ${cell(per((c) => c.server), 0)}${mainOf(per((c) => c.serverMain))}` +
        `${gcOf(per((c) => c.gcMinor), per((c) => c.gcMajor))}, load generator ${cell(per((c) => c.load), 0)}` +
        `${mode === 'MariaDB' ? `, MariaDB ${cell(per((c) => c.db), 0)}` : ''}; cores busy with these processes ${cell(busy, 2)}, ` +
        `with all processes of the machine ${cell(machine, 2)}, of ${os.cpus().length}` +
        (cpuRatio ? `; plain CPU ÷ this CPU per socket ${cell(cpuRatio, 2, '×')}` : ''),
    );
  }
  const names: Record<RunningKind, string> = { plain: 'plain SC', 'plain-mw': 'plain with a pass-through middleware', sqlite: 'SQLite', mariadb: 'MariaDB' };
  const stormsOf = (of: FreshResult | RunningResult) => (Object.keys(of.throughputs) as RunningKind[]).map((kind) =>
    `- ${names[kind]}: ${of.throughputs[kind]!.map((x) => fmtNum(x, 0)).join(', ')}; server CPU ${cell(stat(of.serverCpu[kind] ?? []), 0)}` +
      mainOf(stat(of.serverMainCpu[kind] ?? [])));
  if (fresh) {
    evidence.push(
      '', `## Fresh servers side by side ([1c], [2c]): ${fresh.rounds} rounds, the first storm of ${N} sockets of fresh servers`, '',
      'Each first storm\'s throughput in sockets/s, round by round, and the server\'s CPU in ms per 1000 sockets over the whole storm ' +
        '(connected and, for presence, stored; disconnected and removed).',
      '',
      ...stormsOf(fresh),
    );
  }
  if (running) {
    evidence.push(
      '', `## The running servers ([1b], [2b]): ${running.rounds} rounds, one storm of ${N} sockets per server each`, '',
      'Each storm\'s throughput in sockets/s, round by round, and the server\'s CPU in ms per 1000 sockets over the whole storm ' +
        '(connected and, for presence, stored; disconnected and removed). ' +
        `Wait for a quiet machine before a storm: ${cell(stat(running.quietWaits), 0, 'ms')}.`,
      '',
      ...stormsOf(running),
    );
  }
  if (env.errors.length > 0) evidence.push('', '## Errors', '', ...env.errors.map((e) => `- ${e}`));

  const doc = [...header, table, ...notes, ...evidence, ''].join('\n');
  return { table: [...header, table, ...notes].join('\n'), doc };
}
