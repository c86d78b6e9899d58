/** The store capacity bench's results, as markdown (bench/store-results.md). */
import { writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { Backend } from './store-probe.js';
import type { StepResources } from './store-resources.js';

export interface RampStep extends StepResources {
  rate: number;
  achieved: number;
  flushes: number;
  p50: number;
  p99: number;
  max: number;
  /** Changes not yet flushed when the step ended. */
  backlog: number;
  load: number;
  statementsPerChange: number;
  /** Flushes that failed after the store's retries (deadlocks) and were written again. */
  failedFlushes: number;
  changesPerFlush: number;
}

export interface LatencyRow {
  live: number;
  p50: number;
  p99: number;
  join: number;
  status: number;
  leave: number;
  load: number;
}

export interface CostRow {
  stage: string;
  rows: number;
  op: string;
  statements: number;
  ms: number;
  load: number;
  plans: Array<{ sql: string; plan: string }>;
}

export interface StoreResults {
  quick: boolean;
  /** The command line's options, for the report's first line. */
  args: string[];
  started: string;
  cores: number;
  loadBefore: number[];
  loadAfter?: number[];
  plan: { rampInstances: number; rampSessions: number; stepMs: number; samples: number; others: number };
  backends: Array<{ backend: Backend; steps: RampStep[]; costs: CostRow[]; latency: LatencyRow[] }>;
}

const n = (v: number) => Math.round(v).toLocaleString('en');
const ms = (v: number) => (v < 10 ? v.toFixed(1) : n(v));
/** A figure that a backend may not have (NaN: SQLite has no server counters), as –. */
const num = (v: number, digits: number) => (Number.isFinite(v) ? v.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');

/** The highest rate whose flush p99 stayed within 1 s with at least 90 % of it written. */
export function sustained(steps: RampStep[]): RampStep | undefined {
  return steps.filter((s) => s.p99 <= 1000 && s.achieved >= 0.9 * s.rate).at(-1);
}

function backendSection(b: StoreResults['backends'][number], r: StoreResults): string[] {
  const best = sustained(b.steps);
  const lines = [
    `## ${b.backend}`,
    '',
    `Sustained: **${best ? `${n(best.achieved)} session changes/s` : `less than the lowest rate offered, ${n(b.steps[0]?.rate ?? 0)}/s`}** with flush p99 ≤ 1 s (${r.plan.rampInstances} instances × ${n(r.plan.rampSessions)} sessions, ${r.plan.stepMs / 1000} s per rate, the ramp stops at the first rate that fails).`,
    '',
    '| offered /s | written /s | flushes | flush p50 ms | flush p99 ms | max ms | backlog at end | load (1 min) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...b.steps.map((s) => `| ${n(s.rate)} | ${n(s.achieved)} | ${n(s.flushes)} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} | ${n(s.backlog)} | ${s.load.toFixed(2)} |`),
    '',
    'Where the time goes, per rate: CPU of the bench process (all simulated instances share its event loop) and of',
    'the database server process (which other clients of the server may share), in % of one core; on MariaDB its',
    'counters over the step (commits, data file fsyncs, row lock waits and their total time, deadlocks); flushes',
    "that failed after the store's own retries and were written again.",
    '',
    '| offered /s | changes / flush | statements / change | bench CPU % | server CPU % | commits /s | fsyncs /s | lock waits | lock wait ms | deadlocks | failed flushes |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...b.steps.map(
      (s) =>
        `| ${n(s.rate)} | ${num(s.changesPerFlush, 1)} | ${num(s.statementsPerChange, 2)} | ${num(s.benchCpu, 0)} | ${num(s.serverCpu, 0)} | ${num(s.commitsPerSec, 0)} | ` +
        `${num(s.fsyncsPerSec, 0)} | ${num(s.rowLockWaits, 0)} | ${num(s.rowLockMs, 0)} | ${num(s.deadlocks, 0)} | ${n(s.failedFlushes)} |`,
    ),
    '',
  ];
  if (b.costs.length === 0) return lines;
  lines.push(
    `One transition at a time (a join, a status change, a leave; ${r.plan.samples} of each):`,
    '',
    '| live sessions | p50 ms | p99 ms | join p50 | status p50 | leave p50 | load |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...b.latency.map((l) => `| ${n(l.live)} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.join)} | ${ms(l.status)} | ${ms(l.leave)} | ${l.load.toFixed(2)} |`),
    '',
    'Periodic work (one call each, after one warm-up call):',
    '',
    '| table | rows | operation | statements | ms | load |',
    '|---|---:|---|---:|---:|---:|',
    ...b.costs.map((c) => `| ${c.stage} | ${n(c.rows)} | ${c.op} | ${c.statements} | ${ms(c.ms)} | ${c.load.toFixed(2)} |`),
    '',
    '<details><summary>Plans of every statement (EXPLAIN on the full table)</summary>',
    '',
  );
  const full = b.costs.filter((c) => c.stage !== 'own rows only');
  for (const c of full) for (const p of c.plans) lines.push(`- **${c.op}** \`${p.sql}\``, `  → ${p.plan}`);
  lines.push('', '</details>', '');
  return lines;
}

export function writeStoreReport(r: StoreResults, file: string, chart: string): void {
  const lines = [
    '# Store capacity (no sockets)',
    '',
    `\`npm run bench:store${r.args.length ? ` -- ${r.args.join(' ')}` : ''}\`, started ${r.started}; ${r.cores} cores shared with other processes: load average (1 / 5 / 15 min) ${load(r.loadBefore)} before, ${r.loadAfter ? load(r.loadAfter) : '?'} after.`,
    '',
    'Simulated instances call `PresenceStore` as the writer does: one `write` per flush with the changes since the',
    'last one (25 % joins, 25 % leaves, 30 % online ⇄ idle, 20 % channel moves; each session has 2 channels, so 3 rows),',
    'one flush in flight per instance. Flush latency is from the oldest change of a flush to its commit.',
    '',
    `![flush latency against offered session changes per second](${relative(dirname(file), chart)})`,
    '',
    ...r.backends.flatMap((b) => backendSection(b, r)),
  ];
  writeFileSync(file, lines.join('\n'));
}
