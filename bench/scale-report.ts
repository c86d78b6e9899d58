/**
 * The curve's table, its notes and its two charts: the offline-hook latency against the number of sockets, and
 * each per-socket figure relative to the smallest size (the target: within 1.2× at the largest).
 */
import os from 'node:os';
import type { SqlCounters } from '../test/support/sql-counter.js';
import { writeLineChart } from './chart.js';
import { opts } from './options.js';
import type { PresenceRun } from './runs.js';
import type { ScalePoint } from './scale.js';

const fmt = (x: number | undefined, digits: number) =>
  x === undefined || !Number.isFinite(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : `${n}`);

type Presence = 'sqlite' | 'mariadb';
const NAMES: Record<Presence, string> = { sqlite: 'SQLite', mariadb: 'MariaDB' };

/** The per-socket figures the curve follows, each as a function of one size's runs. */
const FIGURES: Array<{ name: string; unit: string; digits: number; of: (p: ScalePoint, mode: Presence) => number | undefined }> = [
  { name: 'plain ÷ presence throughput', unit: '×', digits: 2, of: (p, m) => (p.plain && p[m] ? p.plain.throughput / p[m]!.throughput : undefined) },
  { name: 'statements per lifecycle', unit: '', digits: 3, of: (p, m) => lifecycle(p[m]) },
  { name: 'heap per socket over plain', unit: 'B', digits: 0, of: (p, m) => (p.plain && p[m] ? p[m]!.heapPerSocket - p.plain.heapPerSocket : undefined) },
];

/** MariaDB: the server's Questions (what the database served); SQLite: the module's own count. */
const lifecycle = (r: PresenceRun | undefined) => (r ? (r.lifecycleQuestions ?? r.lifecycleLogger) : undefined);

function kinds(points: ScalePoint[], mode: Presence): string[] {
  const runs = points.filter((p) => p[mode]);
  if (runs.length === 0) return [];
  const all = [...new Set(runs.flatMap((p) => Object.keys(p[mode]!.stormKinds.kinds)))];
  const per = (c: SqlCounters, kind: string, n: number) => fmt((c.kinds[kind] ?? 0) / n, 4);
  return [
    `| ${NAMES[mode]}: statements per socket, by kind | ${runs.map((p) => k(p.sockets)).join(' | ')} |`,
    `| --- | ${runs.map(() => '---').join(' | ')} |`,
    ...all
      .sort((a, b) => (runs[0][mode]!.stormKinds.kinds[b] ?? 0) - (runs[0][mode]!.stormKinds.kinds[a] ?? 0))
      .map((kind) => `| \`${kind}\` | ${runs.map((p) => per(p[mode]!.stormKinds, kind, p.sockets)).join(' | ')} |`),
    `| socket events per transaction (connect, 2 subscribes, 0.3 setStatus, disconnect: 4.3 per socket) | ${runs
      .map((p) => {
        const c = p[mode]!.stormKinds.kinds;
        const tx = (c['START TRANSACTION'] ?? 0) + (c['BEGIN TRANSACTION'] ?? 0);
        return fmt(tx ? (4.3 * p.sockets) / tx : undefined, 0);
      })
      .join(' | ')} |`,
  ];
}

export interface ScaleReportEnv {
  command: string;
  load0: number[];
  load1: number[];
  openFiles: string;
  errors: string[];
  mariadbVersion: string;
  started: number;
}

export function scaleReport(points: ScalePoint[], env: ScaleReportEnv, charts: { hooks: string; perSocket: string; hooksLink: string; perSocketLink: string }): string {
  const modes = (['sqlite', 'mariadb'] as const).filter((m) => opts.modes.includes(m));
  const first = points.find((p) => modes.some((m) => p[m]));
  const last = [...points].reverse().find((p) => modes.some((m) => p[m]));
  const rows = [
    `| sockets | plain SC sockets/s | ${modes.map((m) => `${NAMES[m]} ÷ plain | ${NAMES[m]} statements / lifecycle | ${NAMES[m]} heap / socket over plain | ${NAMES[m]} hook p50 / p99 | ${NAMES[m]} table exact after connect / disconnect storm`).join(' | ')} |`,
    `| --- | --- | ${modes.map(() => '--- | --- | --- | --- | ---').join(' | ')} |`,
    ...points.map((p) => {
      const cells = modes.map((m) => {
        const r = p[m];
        if (!r) return 'n/a | n/a | n/a | n/a | n/a';
        const ratio = p.plain ? r.throughput / p.plain.throughput : undefined;
        const heap = p.plain ? r.heapPerSocket - p.plain.heapPerSocket : undefined;
        const logger = r.lifecycleQuestions !== undefined ? ` (module: ${fmt(r.lifecycleLogger, 3)})` : '';
        const perSecond = ` (${fmt((r.stormKinds.total / r.lifecycleWindowMs) * 1000, 1)}/s)`;
        return `${fmt(ratio, 2)}× | ${fmt(lifecycle(r), 3)}${logger}${perSecond} | ${fmt(heap, 0)} B | ${fmt(r.hookP50, 1)} / ${fmt(r.hookP99, 1)} ms | ${fmt(r.tableExactConnectMs, 0)} / ${fmt(r.tableExactDisconnectMs, 0)} ms`;
      });
      return `| ${k(p.sockets)} | ${fmt(p.plain?.throughput, 0)} | ${cells.join(' | ')} |`;
    }),
  ];
  // Where the tail of the hook latency is: before the server sees the close (its event loop, the kernel) or
  // after (the flush's wait, its transaction, the hook).
  const split = [
    `| sockets | ${modes.map((m) => `${NAMES[m]} hook p99 of each run | ${NAMES[m]} disconnect → server's event p50 / p99 | ${NAMES[m]} event → hook p50 / p99 | ${NAMES[m]} slowest hook`).join(' | ')} |`,
    `| --- | ${modes.map(() => '--- | --- | --- | ---').join(' | ')} |`,
    ...points.map((p) => {
      const cells = modes.map((m) => {
        const r = p[m];
        if (!r) return 'n/a | n/a | n/a | n/a';
        const each = p.hookP99Runs[m].map((x) => fmt(x, 1)).join(', ');
        return `${each} ms | ${fmt(r.hookToServerP50, 1)} / ${fmt(r.hookToServerP99, 1)} ms | ${fmt(r.hookInServerP50, 1)} / ${fmt(r.hookInServerP99, 1)} ms | ${fmt(r.hookMax, 0)} ms`;
      });
      return `| ${k(p.sockets)} | ${cells.join(' | ')} |`;
    }),
  ];
  const growth: string[] = [];
  if (first && last && first !== last) {
    for (const m of modes) {
      const parts = FIGURES.map((f) => {
        const a = f.of(first, m);
        const b = f.of(last, m);
        const rel = a !== undefined && b !== undefined && a > 0 ? b / a : undefined;
        const verdict = rel === undefined ? '' : rel <= 1.2 ? ' (met)' : ' (**MISSED**)';
        return `${f.name} ${fmt(b, f.digits)}${f.unit ? ` ${f.unit}` : ''} ÷ ${fmt(a, f.digits)} = ${fmt(rel, 2)}×${verdict}`;
      });
      const p99 = last[m]?.hookP99;
      parts.push(`hook p99 ${fmt(p99, 1)} ms${p99 === undefined ? '' : p99 <= 100 ? ' (met, ≤ 100 ms)' : ' (**MISSED**, target ≤ 100 ms)'}`);
      growth.push(`- ${NAMES[m]}, ${k(last.sockets)} against ${k(first.sockets)} (target: each per-socket figure within 1.2×): ${parts.join('; ')}.`);
    }
  }
  drawCharts(points, modes, charts);
  const cpus = os.cpus();
  const lines = [
    `## The curve: ${points.map((p) => k(p.sockets)).join(', ')} sockets`,
    '',
    `- date: ${new Date(env.started).toISOString()}; took ${((Date.now() - env.started) / 1000).toFixed(0)} s; command: \`${env.command}\``,
    `- node ${process.version}; ${cpus.length} cores (${cpus[0]?.model ?? 'unknown'}); MariaDB ${env.mariadbVersion}; open file limit (ulimit -n) ${env.openFiles}`,
    `- load average (1, 5, 15 min) at start ${env.load0.map((x) => x.toFixed(2)).join(', ')}, at end ${env.load1.map((x) => x.toFixed(2)).join(', ')}`,
    `- per size: ${opts.runs === 1 ? '1 run' : `the median of ${opts.runs} runs`} of each mode; ${opts.loadProcesses} load generator processes, each with its share of the sockets and of the ` +
      `${opts.concurrency} connecting at a time; 2 channels per socket, 30 % set idle; hook latency at ${opts.hookRate} disconnects/s; no idle window`,
    '',
    ...rows,
    '',
    ...growth,
    '',
    'The offline-hook latency split at the server\'s \'disconnection\' event (each part the median over the runs of its percentile):',
    '',
    ...split,
    '',
    `![offline-hook latency against sockets](${charts.hooksLink})`,
    `![per-socket figures relative to ${first ? k(first.sockets) : 'the smallest size'}](${charts.perSocketLink})`,
    '',
    'How to read it:',
    '',
    `- The load processes and the server share the machine's ${cpus.length} cores with MariaDB (and with whatever else runs there): ` +
      'more load processes keep a client-side event loop from being the limit, but they cannot add cores. The throughput ratio is ' +
      'plain and presence measured the same way at the same size, so it compares CPU per socket rather than the machine\'s capacity.',
    '- Statements per lifecycle: as in the bench ([3]); MariaDB\'s Questions are server-wide, so another client of the same MariaDB during ' +
      'the storm adds to them; the module\'s own count (its TypeORM logger) is in brackets, then the module\'s statements per second ' +
      'over the lifecycle window (connect storm to the disconnect storm written). The tables below split them by kind.',
    '- Heap per socket over plain: the server\'s heapUsed after the storm minus before, ÷ sockets, presence minus plain at the same size.',
    '',
    ...modes.flatMap((m) => [...kinds(points, m), '']),
    ...(env.errors.length > 0 ? ['Errors:', '', ...env.errors.map((e) => `- ${e}`), ''] : []),
  ];
  return lines.join('\n');
}

const COLORS: Record<Presence, string> = { sqlite: '#2a7ab9', mariadb: '#c0504d' };
const FIGURE_COLORS = ['#2a7ab9', '#c0504d', '#4f8a3a'];

function drawCharts(points: ScalePoint[], modes: readonly Presence[], charts: { hooks: string; perSocket: string }): void {
  const sizes = points.map((p) => p.sockets);
  const footnote = `${opts.loadProcesses} load processes, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`;
  const hookSeries = modes.flatMap((m) =>
    (['hookP99', 'hookP50'] as const).map((field) => ({
      name: `${NAMES[m]} ${field === 'hookP99' ? 'p99' : 'p50'}`,
      color: COLORS[m],
      dashed: field === 'hookP50',
      points: points.filter((p) => p[m] && Number.isFinite(p[m]![field])).map((p) => ({ x: p.sockets, y: p[m]![field], title: `${NAMES[m]}, ${p.sockets} sockets: ${field === 'hookP99' ? 'p99' : 'p50'} ${p[m]![field].toFixed(1)} ms` })),
    })),
  );
  const hookMax = Math.max(200, ...hookSeries.flatMap((s) => s.points.map((p) => p.y)));
  writeLineChart(
    {
      title: `Disconnect → @OnUserOffline at ${opts.hookRate}/s, against connected sockets`,
      xLabel: 'sockets on the instance (log)',
      xTicks: sizes,
      xTick: k,
      yTick: (v) => `${v} ms`,
      yTicks: [10, 20, 50, 100, 200, 500, 1000, 2000, 5000].filter((v) => v <= hookMax * 1.5),
      yRange: [10, hookMax * 1.5],
      limits: [{ y: 100, label: 'p99 target 100 ms' }],
      series: hookSeries,
      footnote,
    },
    charts.hooks,
  );
  const first = points.find((p) => modes.some((m) => p[m]));
  const relSeries = modes.flatMap((m) =>
    FIGURES.map((f, i) => {
      const base = first ? f.of(first, m) : undefined;
      return {
        name: `${NAMES[m]} ${f.name.replace('statements per lifecycle', 'statements').replace('heap per socket over plain', 'heap').replace('plain ÷ presence throughput', 'slowdown vs plain')}`,
        color: FIGURE_COLORS[i],
        dashed: m === 'mariadb',
        points: points
          .map((p) => ({ p, v: f.of(p, m) }))
          .filter(({ v }) => v !== undefined && base !== undefined && base > 0 && v > 0)
          .map(({ p, v }) => ({ x: p.sockets, y: v! / base!, title: `${NAMES[m]}, ${p.sockets} sockets: ${f.name} ${fmt(v, f.digits)} (${(v! / base!).toFixed(2)}× of ${first ? k(first.sockets) : ''})` })),
      };
    }),
  );
  const relMax = Math.max(2, ...relSeries.flatMap((s) => s.points.map((p) => p.y)));
  const relMin = Math.min(0.5, ...relSeries.flatMap((s) => s.points.map((p) => p.y)));
  writeLineChart(
    {
      title: `Per-socket cost relative to ${first ? k(first.sockets) : 'the smallest size'} sockets`,
      xLabel: 'sockets on the instance (log)',
      xTicks: sizes,
      xTick: k,
      yTick: (v) => `${v}×`,
      yTicks: [0.25, 0.5, 0.8, 1, 1.2, 1.5, 2, 3, 5, 10].filter((v) => v >= relMin / 1.2 && v <= relMax * 1.2),
      yRange: [relMin / 1.2, relMax * 1.2],
      limits: [{ y: 1.2, label: 'target 1.2×' }],
      series: relSeries,
      footnote,
    },
    charts.perSocket,
  );
}
