/**
 * The store capacity ramp as an SVG line chart: flush latency p99 (log scale) against the offered session
 * changes per second (log scale), one line per backend, and the 1 s limit. Written by hand: no dependency.
 */
import { writeFileSync } from 'node:fs';
import type { StoreResults } from './store-report.js';

const W = 640;
const H = 360;
const M = { left: 64, right: 150, top: 28, bottom: 48 };
const COLORS: Record<string, string> = { sqlite: '#2a7ab9', mariadb: '#c0504d' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function logScale(min: number, max: number, from: number, to: number) {
  const a = Math.log10(min);
  const b = Math.log10(max);
  return (v: number) => from + ((Math.log10(Math.max(v, min)) - a) / (b - a)) * (to - from);
}

export function writeStoreChart(r: StoreResults, file: string): void {
  const steps = r.backends.flatMap((b) => b.steps);
  const xMin = Math.min(...steps.map((s) => s.rate)) / 1.5;
  const xMax = Math.max(...steps.map((s) => s.rate)) * 1.5;
  const yMin = 1;
  const yMax = Math.max(2000, ...steps.map((s) => s.p99)) * 1.5;
  const x = logScale(xMin, xMax, M.left, W - M.right);
  const y = logScale(yMin, yMax, H - M.bottom, M.top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="18" font-size="14" font-weight="bold">Flush latency p99 against session changes per second</text>`,
  ];
  for (let v = 1; v <= yMax; v *= 10) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`);
  }
  for (const rate of [...new Set(steps.map((s) => s.rate))]) {
    out.push(`<text x="${x(rate)}" y="${H - M.bottom + 16}" text-anchor="middle">${rate >= 1000 ? `${rate / 1000}k` : rate}</text>`);
  }
  out.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${y(1000)}" y2="${y(1000)}" stroke="#888" stroke-dasharray="6 4"/>`,
    `<text x="${W - M.right + 4}" y="${y(1000) + 4}" fill="#666">1 s limit</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">offered session changes / s (log)</text>`,
  );
  r.backends.forEach((b, i) => {
    const color = COLORS[b.backend] ?? '#555';
    const points = b.steps.map((s) => `${x(s.rate).toFixed(1)},${y(s.p99).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const s of b.steps) out.push(`<circle cx="${x(s.rate).toFixed(1)}" cy="${y(s.p99).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${b.backend}: ${s.rate}/s offered, ${Math.round(s.achieved)}/s written, p99 ${Math.round(s.p99)} ms`)}</title></circle>`);
    out.push(`<rect x="${W - M.right + 8}" y="${M.top + 20 + i * 18}" width="12" height="3" fill="${color}"/>`, `<text x="${W - M.right + 26}" y="${M.top + 25 + i * 18}">${esc(b.backend)}</text>`);
  });
  out.push(`<text x="${W - M.right + 8}" y="${H - M.bottom - 4}" fill="#666" font-size="10">load ${r.loadBefore[0].toFixed(1)} on ${r.cores} cores</text>`, '</svg>');
  writeFileSync(file, out.join('\n') + '\n');
}
