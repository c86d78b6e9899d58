/**
 * The server under test, one process per configuration (started by bench/run.ts with --expose-gc):
 * - plain: socketcluster-server alone, attached to a bare HTTP server (optionally with a pass-through inbound
 *   middleware);
 * - sqlite / mariadb: a Nest app with PresenceModule (from the built library in dist/), a provider with an
 *   @OnUserOffline() hook that records when each hook ran, and a TypeORM logger that counts the module's
 *   statements by kind (and, with PRESENCE_BENCH_LOG_SQL=1, writes each of them to a file).
 * Commands and answers travel over the IPC channel (see common.ts).
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { AddressInfo } from 'node:net';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import scServer, { type AGServer } from 'socketcluster-server';
import { OnUserOffline, PresenceModule, PresenceService, type PresenceModuleOptions, type UserStatusEvent } from '../dist/index.js';
import { useSecretKeyObject } from '../dist/socketcluster/auth-key.util.js';
import { SqlStatementCounter } from '../test/support/sql-counter.js';
import { notify, now, serve, type HeapReading, type ServerConfig, type SqlCounters } from './common.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;

/**
 * Main-thread pauses for garbage collection since start, in ms: scavenges of the young generation, and the rest
 * (mark-compact, the steps of incremental marking, weak callbacks). Read with the CPU, so a storm's share shows.
 */
const gcPauses = { minorMs: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MINOR) gcPauses.minorMs += entry.duration;
    else gcPauses.majorMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

/** Offline hook calls: [userId, time the hook ran]. */
const offlineHooks: Array<[string, number]> = [];
/** Sockets that closed: [userId, time the server emitted 'disconnection'], to split the hook latency. */
const disconnections: Array<[string, number]> = [];

@Injectable()
class BenchHooks {
  @OnUserOffline()
  offline(event: UserStatusEvent): void {
    offlineHooks.push([event.userId, now()]);
  }
}

interface Running {
  server: AGServer;
  port: number;
  close(): Promise<void>;
  sql?: SqlStatementCounter;
}

async function startPlain(): Promise<Running> {
  const httpServer = http.createServer();
  const server = scServer.attach(httpServer, { authKey: config.authKey, pingInterval: config.pingInterval, path: '/socketcluster/' });
  // Plain holds its authKey as a secret KeyObject too, as the module's attached server does, so that the ratio
  // shows what tracking adds, not the per-verify key conversion the module saves (PRESENCE_BENCH_PLAIN_SECRET_KEY=0:
  // plain with the string, as socketcluster-server is usually configured).
  if (process.env.PRESENCE_BENCH_PLAIN_SECRET_KEY !== '0') useSecretKeyObject(server);
  // With any inbound middleware, SocketCluster gives every socket a stream of its own and every action a promise;
  // this is the usual shape of an app's middleware, for the ratio against plain with that cost in it too.
  if (config.passThroughMiddleware) {
    server.setMiddleware(server.MIDDLEWARE_INBOUND, async (stream) => {
      for await (const action of stream) action.allow();
    });
  }
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (httpServer.address() as AddressInfo).port,
    close: async () => {
      await server.close().catch(() => undefined);
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

async function startPresence(): Promise<Running> {
  const tableName = config.tableName!;
  const logger = new SqlStatementCounter({
    baseTable: tableName,
    file: config.sqlLogFile,
    onError: (line) => process.stderr.write(`[sql error] ${line}\n`),
  });
  const database: PresenceModuleOptions['database'] =
    config.mode === 'mariadb'
      ? { type: 'mysql', url: config.mysqlUrl, logger }
      : { type: 'better-sqlite3', database: config.sqliteFile!, logger };
  const options: PresenceModuleOptions = {
    database,
    tableName,
    socketcluster: { authKey: config.authKey, pingInterval: config.pingInterval },
    // The default quiet period (60 s) would publish no count during the whole bench.
    usercount: { startupQuietMs: 0 },
    heartbeat: config.pingsPerUpdate ? { pingsPerUpdate: config.pingsPerUpdate } : undefined,
    gc: config.gc,
  };
  class BenchModule {}
  Module({ imports: [PresenceModule.forRoot(options)], providers: [BenchHooks] })(BenchModule);
  const app: INestApplication = await NestFactory.create(BenchModule, { logger: ['error', 'warn'], abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const server = app.get(PresenceService).server;
  return {
    server,
    port: (app.getHttpServer().address() as AddressInfo).port,
    close: () => app.close(),
    sql: logger,
  };
}

/** Every published user count, with the time it reached this observer (it is not a socket, so it is not counted). */
function observeUsercount(server: AGServer): void {
  const channel = server.exchange.subscribe('USERCOUNT');
  void (async () => {
    for await (const value of channel) notify('count', { value, at: now() });
  })();
}

function recordDisconnections(server: AGServer): void {
  void (async () => {
    for await (const { socket } of server.listener('disconnection')) {
      const userId = (socket.authToken as { user_id?: unknown } | null)?.user_id;
      if (typeof userId === 'string') disconnections.push([userId, now()]);
    }
  })();
}

async function heap(): Promise<Omit<HeapReading, 'clients'>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the server with --expose-gc');
  // Several passes with turns of the event loop in between, so that finalizers and weak references settle.
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, rss: m.rss };
}

/**
 * Self time of a CPU profile by where the code lives: this library's dist/, a package under node_modules, Node's
 * own code, or V8's pseudo-frames ((garbage collector), (program)); plus the top functions. Idle time is left out.
 */
function summarizeProfile(profile: { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>; samples?: number[]; timeDeltas?: number[] }) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + (deltas[i] ?? 0));
  // The profiler's own start and stop (`post` of node:inspector: the stop serializes the whole profile) are
  // sampled too; they are the measurement, not the server's work.
  const own = profile.nodes.filter((node) => node.callFrame.url === 'node:inspector' && node.callFrame.functionName === 'post').map((node) => node.id);
  while (own.length > 0) {
    const id = own.pop()!;
    selfUs.delete(id);
    own.push(...(byId.get(id)?.children ?? []));
  }
  const categories: Record<string, number> = {};
  const functions: Record<string, number> = {};
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    let category: string;
    const modules = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
    if (modules) category = modules[modules.length - 1].replace(/^node_modules\//, '').replace(/\/$/, '');
    else if (url.includes('/dist/')) category = 'nestjs-sc-presence (dist/)';
    else if (url.includes('/bench/')) category = 'bench harness (SQL logger, hook recorder)';
    else if (url.startsWith('node:')) category = 'node internals (node:*)';
    else if (functionName.startsWith('(')) category = functionName; // (garbage collector), (program), (root)
    else category = '(native: V8 builtins, addons)';
    categories[category] = (categories[category] ?? 0) + us / 1000;
    const fn = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${lineNumber + 1}`;
    functions[fn] = (functions[fn] ?? 0) + us / 1000;
  }
  const top = Object.entries(functions).sort((a, b) => b[1] - a[1]).slice(0, 400);
  return { categories, functions: Object.fromEntries(top) };
}

async function main(): Promise<void> {
  const running = config.mode === 'plain' ? await startPlain() : await startPresence();
  observeUsercount(running.server);
  recordDisconnections(running.server);
  let stopping = false;
  let profiler: Session | undefined;
  serve({
    'profile-start': async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
    },
    'profile-stop': async () => {
      if (!profiler) throw new Error('no profile is running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      // The raw profile, for a look at the call tree (parents of a hot native frame) in DevTools or a script.
      const dir = process.env.PRESENCE_BENCH_CPU_PROFILE_DIR;
      if (dir) writeFileSync(join(dir, `${config.mode}.cpuprofile`), JSON.stringify(profile));
      return summarizeProfile(profile);
    },
    heap: async ({ snapshot }: { snapshot?: string }): Promise<HeapReading> => {
      const reading = { ...(await heap()), clients: running.server.clientsCount };
      if (snapshot) v8.writeHeapSnapshot(snapshot);
      return reading;
    },
    clients: () => running.server.clientsCount,
    sql: (): SqlCounters => running.sql?.snapshot() ?? { total: 0, kinds: {} },
    cpu: () => ({ ...process.cpuUsage(), gcMinorMs: gcPauses.minorMs, gcMajorMs: gcPauses.majorMs }),
    hooks: ({ prefix }: { prefix: string }) => ({
      hooks: offlineHooks.filter(([userId]) => userId.startsWith(prefix)),
      disconnections: disconnections.filter(([userId]) => userId.startsWith(prefix)),
    }),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await running.close();
      setTimeout(() => process.exit(0), 50);
    },
  });
  notify('ready', { port: running.port, pid: process.pid });
}

main().catch((error: Error) => {
  process.stderr.write(`server failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
