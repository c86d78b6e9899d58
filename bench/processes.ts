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
import { Peer, sleep, type Notice, type ServerConfig } from './common.js';
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
  opts.quick ? 150_000 : 20 * 60_000 + opts.runs * opts.sockets * 100,
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

