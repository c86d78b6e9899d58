/**
 * A line chart as SVG, drawn by hand (no dependency): log-scaled axes, one line per series, optional dashed
 * limit lines. The store ramp (store-chart.ts) and the scale curve (scale-report.ts) are drawn with it.
 */
import { writeFileSync } from 'node:fs';

export interface ChartPoint {
  x: number;
  y: number;
  /** Shown when the pointer rests on the point. */
  title: string;
}

export interface LineChart {
  title: string;
  xLabel: string;
  /** Formats an axis value (a tick label). */
  xTick: (v: number) => string;
  yTick: (v: number) => string;
  /** Where the x ticks go (the measured sizes or rates); y ticks are every power of 10 in range (or `yTicks`). */
  xTicks: number[];
  yTicks?: number[];
  yRange: [number, number];
  series: Array<{ name: string; color: string; dashed?: boolean; points: ChartPoint[] }>;
  limits?: Array<{ y: number; label: string }>;
  footnote: string;
}

const W = 700;
const H = 360;
const M = { left: 64, right: 190, top: 28, bottom: 48 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function logScale(min: number, max: number, from: number, to: number) {
  const a = Math.log10(min);
  const b = Math.log10(max);
  return (v: number) => from + ((Math.log10(Math.max(v, min)) - a) / (b - a)) * (to - from);
}

export function writeLineChart(chart: LineChart, file: string): void {
  const xMin = Math.min(...chart.xTicks) / 1.5;
  const xMax = Math.max(...chart.xTicks) * 1.5;
  const [yMin, yMax] = chart.yRange;
  const x = logScale(xMin, xMax, M.left, W - M.right);
  const y = logScale(yMin, yMax, H - M.bottom, M.top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="18" font-size="14" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  const yTicks = chart.yTicks ?? (() => {
    const ticks: number[] = [];
    for (let v = 10 ** Math.ceil(Math.log10(yMin)); v <= yMax; v *= 10) ticks.push(v);
    return ticks;
  })();
  for (const v of yTicks) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(chart.yTick(v))}</text>`);
  }
  // A label that would run into the one before it is left out (its point's tooltip still says the value).
  let lastEnd = -Infinity;
  for (const v of [...chart.xTicks].sort((a, b) => a - b)) {
    const text = chart.xTick(v);
    const half = (text.length * 7) / 2;
    if (x(v) - half < lastEnd + 4) continue;
    lastEnd = x(v) + half;
    out.push(`<text x="${x(v)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(text)}</text>`);
  }
  for (const limit of chart.limits ?? []) {
    out.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${y(limit.y)}" y2="${y(limit.y)}" stroke="#888" stroke-dasharray="6 4"/>`,
      // Inside the plot, above its line: the column to the right is the legend's.
      `<text x="${W - M.right - 4}" y="${y(limit.y) - 4}" text-anchor="end" fill="#666">${esc(limit.label)}</text>`,
    );
  }
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(chart.xLabel)}</text>`);
  const legendTop = M.top + 20;
  chart.series.forEach((s, i) => {
    const points = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="4 3"' : '';
    out.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const p of s.points) out.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(p.title)}</title></circle>`);
    const ly = legendTop + 1.5 + i * 18;
    out.push(`<line x1="${W - M.right + 8}" x2="${W - M.right + 22}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"${dash}/>`, `<text x="${W - M.right + 26}" y="${legendTop + 5 + i * 18}">${esc(s.name)}</text>`);
  });
  out.push(`<text x="${W - M.right + 8}" y="${H - M.bottom - 4}" fill="#666" font-size="10">${esc(chart.footnote)}</text>`, '</svg>');
  writeFileSync(file, out.join('\n') + '\n');
}
