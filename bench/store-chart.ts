/**
 * The store capacity ramp as an SVG line chart: flush latency p99 (log scale) against the offered session
 * changes per second (log scale), one line per backend, and the 1 s limit.
 */
import { writeLineChart } from './chart.js';
import type { StoreResults } from './store-report.js';

const COLORS: Record<string, string> = { sqlite: '#2a7ab9', mariadb: '#c0504d' };

export function writeStoreChart(r: StoreResults, file: string): void {
  const steps = r.backends.flatMap((b) => b.steps);
  writeLineChart(
    {
      title: 'Flush latency p99 against session changes per second',
      xLabel: 'offered session changes / s (log)',
      xTicks: [...new Set(steps.map((s) => s.rate))],
      xTick: (rate) => (rate >= 1000 ? `${rate / 1000}k` : `${rate}`),
      yTick: (v) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`),
      yRange: [1, Math.max(2000, ...steps.map((s) => s.p99)) * 1.5],
      limits: [{ y: 1000, label: '1 s limit' }],
      series: r.backends.map((b) => ({
        name: b.backend,
        color: COLORS[b.backend] ?? '#555',
        points: b.steps.map((s) => ({ x: s.rate, y: s.p99, title: `${b.backend}: ${s.rate}/s offered, ${Math.round(s.achieved)}/s written, p99 ${Math.round(s.p99)} ms` })),
      })),
      footnote: `load ${r.loadBefore[0].toFixed(1)} on ${r.cores} cores`,
    },
    file,
  );
}
