/**
 * What grew between two V8 heap snapshots, by constructor: the evidence behind a heap-per-socket figure.
 *
 *   node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [sockets]
 *
 * bench/run.ts uses `summarize` and `diff` when PRESENCE_BENCH_HEAP_SNAPSHOT=1 (the default of a full run).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type HeapSummary = Map<string, { count: number; size: number }>;

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count of the heap's nodes, keyed by `constructor` for objects and `(kind)` for the rest. */
export function summarize(file: string): HeapSummary {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out: HeapSummary = new Map();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]];
    const name = data.strings[data.nodes[i + nameAt]];
    let key: string;
    if (type === 'object') key = name;
    else if (type === 'closure') key = `(closure) ${name || 'anonymous'}`;
    else if (type === 'hidden' || type === 'native' || type === 'object shape') key = `(${type}) ${name.slice(0, 40)}`;
    else key = `(${type})`;
    const entry = out.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += data.nodes[i + sizeAt];
    out.set(key, entry);
  }
  return out;
}

/** after − before, per key. */
export function diff(before: HeapSummary, after: HeapSummary): HeapSummary {
  const out: HeapSummary = new Map();
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(key) ?? { count: 0, size: 0 };
    const b = after.get(key) ?? { count: 0, size: 0 };
    if (a.count !== b.count || a.size !== b.size) out.set(key, { count: b.count - a.count, size: b.size - a.size });
  }
  return out;
}

/** The `top` keys by size, per socket: `key: bytes per socket (objects per socket)`. */
export function topPerSocket(growth: HeapSummary, sockets: number, top = 15): Array<{ key: string; bytes: number; count: number }> {
  return [...growth.entries()]
    .map(([key, v]) => ({ key, bytes: v.size / sockets, count: v.count / sockets }))
    .sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes))
    .slice(0, top);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [before, after, sockets = '1'] = process.argv.slice(2);
  if (!before || !after) {
    process.stderr.write('usage: node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [sockets]\n');
    process.exit(1);
  }
  const n = Number(sockets);
  for (const { key, bytes, count } of topPerSocket(diff(summarize(before), summarize(after)), n, 30)) {
    process.stdout.write(`${bytes.toFixed(1).padStart(10)} B  ${count.toFixed(2).padStart(7)} ×  ${key}\n`);
  }
}
