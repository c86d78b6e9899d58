/**
 * The child processes of a bench run (bench/server.ts, bench/load.ts) and everything to clean up after them:
 * MariaDB tables and temp dirs. Whatever happens (an error, SIGINT, SIGTERM, the time limit), the children are
 * killed and the tables dropped.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { presenceTableNames } from '../dist/index.js';
import { Peer, sleep, type ConnectArgs, type ConnectResult, type DisconnectResult, type IdleResult, type Notice, type ServerConfig, type StateResult } from './common.js';
import { BENCH_DIR, ROOT, opts } from './options.js';

const children = new Set<ChildProcess>();
export const tablesToDrop = new Set<string>();
export const dirsToRemove = new Set<string>();

function spawn(name: string, file: string, args: string[], execArgv: string[] = []): ChildProcess {
  const child = fork(join(BENCH_DIR, file), args, {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // The root tsconfig covers src/ only: without this, tsx would compile the bench's decorators as TC39 ones.
    env: { ...process.env, TSX_TSCONFIG_PATH: join(BENCH_DIR, 'tsconfig.json') },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  return child;
}

/** Asks a child to stop, and kills it (by its own pid) if it has not exited within `ms`. */
export async function stopChild(peer: Peer, ms = 10_000): Promise<void> {
  if (!peer.alive) return;
  const exited = new Promise<void>((resolve) => peer.child.once('exit', () => resolve()));
  await peer.request(peer.name.startsWith('load') ? 'exit' : 'stop', {}, ms).catch(() => undefined);
  const timer = setTimeout(() => peer.child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

export async function dropTables(base: string): Promise<void> {
  const ds = new DataSource({ type: 'mysql', url: opts.mysqlUrl });
  await ds.initialize();
  try {
    const found = (await ds.query(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND LEFT(table_name, ?) = ?',
      [base.length, base],
    )) as Array<{ name: string }>;
    const names = new Set([...Object.values(presenceTableNames(base)), ...found.map((r) => r.name)]);
    await ds.query(`DROP TABLE IF EXISTS ${[...names].map((n) => `\`${n}\``).join(', ')}`);
    tablesToDrop.delete(base);
  } finally {
    await ds.destroy();
  }
}

export async function cleanupEverything(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  for (const base of [...tablesToDrop]) {
    await Promise.race([dropTables(base), sleep(5000)]).catch((error: Error) =>
      process.stderr.write(`could not drop the bench tables ${base}*: ${error.message}\n`),
    );
  }
  for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  dirsToRemove.clear();
}

let aborting = false;
async function abort(reason: string, code: number): Promise<never> {
  if (!aborting) {
    aborting = true;
    process.stderr.write(`\nbench aborted: ${reason}\n`);
    await cleanupEverything();
  }
  process.exit(code);
}

process.on('SIGINT', () => void abort('interrupted', 130));
process.on('SIGTERM', () => void abort('terminated', 143));
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
export const watchdog = setTimeout(
  () => void abort('the bench ran past its time limit', 1),
  (opts.quick ? 240_000 : 25 * 60_000) +
    (opts.scale ? opts.scaleSockets.reduce((a, b) => a + b, 0) * opts.modes.length * 150 : opts.quick ? 0 : opts.runs * opts.sockets * 100),
);

export interface CountEvent {
  value: unknown;
  at: number;
}

export interface ServerHandle {
  peer: Peer;
  port: number;
  counts: CountEvent[];
}

export async function startServer(name: string, config: ServerConfig): Promise<ServerHandle> {
  const counts: CountEvent[] = [];
  let ready: (port: number) => void = () => undefined;
  const readyPort = new Promise<number>((resolve) => (ready = resolve));
  const child = spawn(name, 'server.ts', [JSON.stringify(config)], ['--expose-gc']);
  const peer = new Peer(name, child, (notice: Notice) => {
    if (notice.type === 'ready') ready(notice.port as number);
    else if (notice.type === 'count') counts.push({ value: notice.value, at: notice.at as number });
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`))),
  );
  const port = await Promise.race([readyPort, exited, sleep(60_000).then(() => Promise.reject(new Error(`${name} not ready within 60 s`)))]);
  return { peer, port, counts };
}

export async function startLoad(name: string): Promise<Peer> {
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const child = spawn(name, 'load.ts', []);
  const peer = new Peer(name, child, (notice) => {
    if (notice.type === 'ready') ready();
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${name} exited with code ${code}`))));
  await Promise.race([isReady, exited, sleep(60_000).then(() => Promise.reject(new Error(`${name} not ready within 60 s`)))]);
  return peer;
}


/**
 * The load generator processes of a run, driven as one: a connect, idle or disconnect command is split among
 * them (each its share of the sockets, of the concurrency and of the disconnect rate) and their answers are
 * merged; `cpu` is their sum. With one process the commands pass through unchanged.
 */
export class LoadGroup {
  constructor(readonly peers: Peer[]) {}

  async request<T>(cmd: string, args: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const k = this.peers.length;
    if (k === 1) return this.peers[0].request<T>(cmd, args, timeoutMs);
    const share = (n: number, i: number) => Math.floor(n / k) + (i < n % k ? 1 : 0);
    const answers = await Promise.all(
      this.peers.map((peer, i) => {
        if (cmd === 'connect') {
          const a = args as unknown as ConnectArgs;
          return peer.request<unknown>(cmd, { ...a, n: share(a.n, i), prefix: `${a.prefix}${i}-`, concurrency: Math.max(1, Math.ceil(a.concurrency / k)) }, timeoutMs);
        }
        if (cmd === 'idle') return peer.request<unknown>(cmd, { ...args, concurrency: Math.max(1, Math.ceil((args.concurrency as number) / k)) }, timeoutMs);
        if (cmd === 'disconnect' && typeof args.rate === 'number') {
          // k schedules of rate / k each, offset so that together they are one steady schedule of `rate`.
          return peer.request<unknown>(cmd, { ...args, rate: args.rate / k, offsetMs: (i * 1000) / args.rate }, timeoutMs);
        }
        return peer.request<unknown>(cmd, args, timeoutMs);
      }),
    );
    return merge(cmd, answers) as T;
  }

  async stop(): Promise<void> {
    await Promise.all(this.peers.map((peer) => stopChild(peer)));
  }
}

function merge(cmd: string, answers: unknown[]): unknown {
  if (cmd === 'connect') {
    const all = answers as ConnectResult[];
    return {
      ok: sum(all.map((a) => a.ok)), failed: sum(all.map((a) => a.failed)), notAuthenticated: sum(all.map((a) => a.notAuthenticated)),
      errors: all.flatMap((a) => a.errors).slice(0, 5), t0: Math.min(...all.map((a) => a.t0)), tEnd: Math.max(...all.map((a) => a.tEnd)),
    } satisfies ConnectResult;
  }
  if (cmd === 'idle') {
    const all = answers as IdleResult[];
    return {
      idle: sum(all.map((a) => a.idle)), failed: sum(all.map((a) => a.failed)), errors: all.flatMap((a) => a.errors).slice(0, 5),
      t0: Math.min(...all.map((a) => a.t0)), t1: Math.max(...all.map((a) => a.t1)),
    } satisfies IdleResult;
  }
  if (cmd === 'disconnect') {
    const all = answers as DisconnectResult[];
    const sent = all.flatMap((a) => a.sent).sort((a, b) => a[1] - b[1]);
    return { sent, tFirst: Math.min(...all.map((a) => a.tFirst)), tLast: Math.max(...all.map((a) => a.tLast)) } satisfies DisconnectResult;
  }
  if (cmd === 'state') {
    const all = answers as StateResult[];
    return {
      calls: sum(all.map((a) => a.calls)), failed: sum(all.map((a) => a.failed)), late: sum(all.map((a) => a.late)),
      errors: all.flatMap((a) => a.errors).slice(0, 5), t0: Math.min(...all.map((a) => a.t0)), tSent: Math.max(...all.map((a) => a.tSent)),
      t1: Math.max(...all.map((a) => a.t1)),
    } satisfies StateResult;
  }
  if (cmd === 'cpu') {
    const all = answers as NodeJS.CpuUsage[];
    return { user: sum(all.map((a) => a.user)), system: sum(all.map((a) => a.system)) };
  }
  return answers[0];
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** `k` load generator processes, started one after another. */
export async function startLoads(name: string, k: number): Promise<LoadGroup> {
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < k; i++) peers.push(await startLoad(k === 1 ? name : `${name}.${i + 1}`));
  } catch (error) {
    await Promise.all(peers.map((peer) => stopChild(peer)));
    throw error;
  }
  return new LoadGroup(peers);
}
