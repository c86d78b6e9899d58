/**
 * Where the heap per socket goes: N sockets on a plain server and on a presence server (SQLite), a V8 heap
 * snapshot before and after each, and the difference by constructor, presence minus plain, per socket.
 *
 *   node --import tsx bench/heap-probe.ts [--sockets N]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { sleep, type ConnectResult, type HeapReading } from './common.js';
import { diff, summarize, type HeapSummary } from './heap-diff.js';
import { checkStorm, until } from './measurements.js';
import { N, opts } from './options.js';
import { cleanupEverything, startLoad, startServer, stopChild, watchdog } from './processes.js';

async function growth(mode: 'plain' | 'sqlite', dir: string): Promise<{ growth: HeapSummary; perSocket: number }> {
  const authKey = randomBytes(16).toString('hex');
  const sqliteFile = mode === 'sqlite' ? join(dir, 'p.sqlite') : undefined;
  const server = await startServer(mode, { mode, authKey, pingInterval: opts.defaultPingInterval, tableName: 'probe', sqliteFile });
  const load = await startLoad(`load-${mode}`);
  try {
    const connect = (n: number, prefix: string) =>
      load.request<ConnectResult>('connect', { port: server.port, n, prefix, authKey, concurrency: opts.concurrency, timeoutMs: 120_000 }, 130_000);
    checkStorm('warm-up', await connect(100, 'w'));
    await load.request('disconnect', { timeoutMs: 30_000 }, 40_000);
    await until('warm-up gone', 20_000, 20, async () => (await server.peer.request<number>('clients', {}, 5000)) === 0);
    await sleep(1500);
    const base = await server.peer.request<HeapReading>('heap', { snapshot: join(dir, `${mode}-0.heapsnapshot`) }, 120_000);
    checkStorm('storm', await connect(N, 's'));
    await sleep(1500); // the writer's flushes are over
    const loaded = await server.peer.request<HeapReading>('heap', { snapshot: join(dir, `${mode}-1.heapsnapshot`) }, 120_000);
    return {
      growth: diff(summarize(join(dir, `${mode}-0.heapsnapshot`)), summarize(join(dir, `${mode}-1.heapsnapshot`))),
      perSocket: (loaded.heapUsed - base.heapUsed) / N,
    };
  } finally {
    await stopChild(load);
    await stopChild(server.peer);
  }
}

const dir = mkdtempSync(join(os.tmpdir(), 'scp-heap-probe-'));
try {
  const plain = await growth('plain', dir);
  const presence = await growth('sqlite', dir);
  process.stdout.write(`heapUsed per socket: plain ${plain.perSocket.toFixed(0)} B, presence ${presence.perSocket.toFixed(0)} B, over plain ${(presence.perSocket - plain.perSocket).toFixed(0)} B\n`);
  const over = diff(plain.growth, presence.growth);
  let total = 0;
  for (const v of over.values()) total += v.size;
  process.stdout.write(`snapshot self sizes, presence − plain: ${(total / N).toFixed(0)} B per socket\n`);
  const rows = [...over.entries()].map(([k, v]) => ({ k, b: v.size / N, c: v.count / N })).sort((a, b) => Math.abs(b.b) - Math.abs(a.b)).slice(0, 25);
  for (const r of rows) process.stdout.write(`${r.b.toFixed(1).padStart(9)} B ${r.c.toFixed(2).padStart(7)} ×  ${r.k}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  clearTimeout(watchdog);
  await cleanupEverything();
}
