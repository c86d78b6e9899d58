/**
 * Store capacity without sockets: simulated instances feed `PresenceStore` the batches their writers would
 * send, on SQLite and MariaDB, and the bench finds
 *   1. the session changes per second the store sustains before the flush latency (p99) passes 1 s;
 *   2. the latency of one transition with 100k live sessions (and with the full table);
 *   3. the statements and time of the periodic work (heartbeat, GC, leases, counts, reaping) with one
 *      instance's rows alone and then with other instances' rows around them, and the plan of each statement.
 *
 *   npm run bench:store              # 10 instances × 1,000 sessions for the ramp; 100k then 1M rows
 *   npm run bench:store -- --quick   # a smoke run (< 1 min): small table, two rates
 *
 * Options: --backends sqlite,mariadb  --rates 250,500,…  --rows N (full table, default 1,000,000)  --out FILE;
 * --ramp-only runs step 1 alone (written to bench/store-ramp.md, its chart to docs/store-ramp.svg).
 * Environment: PRESENCE_BENCH_MYSQL_URL (falls back to PRESENCE_TEST_MYSQL_URL).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REFRESH_BUSY_MS, type InstanceInfo, type PresenceStore } from '../src/store/presence.store.js';
import { writeStoreChart } from './store-chart.js';
import { type Backend, dropTables, explain, openStore, StatementLog } from './store-probe.js';
import { type CostRow, type LatencyRow, type RampStep, type StoreResults, writeStoreReport } from './store-report.js';
import { ResourceProbe } from './store-resources.js';
import { CHANNELS_PER_SESSION, SimInstance } from './store-workload.js';

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'ramp-only': { type: 'boolean', default: false },
    backends: { type: 'string' },
    rates: { type: 'string' },
    rows: { type: 'string' },
    out: { type: 'string' },
  },
  strict: true,
});
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const quick = argv.quick!;
const plan = {
  backends: (argv.backends?.split(',') ?? ['sqlite', 'mariadb']) as Backend[],
  rampInstances: quick ? 4 : 10,
  rampSessions: quick ? 250 : 1000,
  rates: argv.rates?.split(',').map(Number) ?? (quick ? [500, 2000] : [250, 500, 1000, 2500, 5000, 10000, 15000, 20000, 25000, 30000, 40000]),
  stepMs: quick ? 2000 : 5000,
  ownSessions: quick ? 1000 : Math.ceil(100_000 / (1 + CHANNELS_PER_SESSION)),
  totalRows: Number(argv.rows ?? (quick ? 12_000 : 1_000_000)),
  liveForLatency: quick ? 3000 : 100_000,
  others: quick ? 5 : 49,
  samples: quick ? 5 : 30,
  rampOnly: argv['ramp-only']!,
  out: argv.out ?? join(BENCH_DIR, quick ? 'store-results-quick.md' : argv['ramp-only'] ? 'store-ramp.md' : 'store-results.md'),
};
const mysqlUrl = process.env.PRESENCE_BENCH_MYSQL_URL ?? process.env.PRESENCE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const BATCH = 500;
const minute = 60_000;

const info = (id: string, startedAt = new Date()): InstanceInfo => ({ id, host: 'bench', pid: process.pid, startedAt });
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** Joins `count` sessions on each instance, BATCH per flush, at most `parallel` instances flushing at once. */
async function fill(instances: SimInstance[], count: number, parallel = 4): Promise<void> {
  const queue = [...instances];
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let sim = queue.shift(); sim; sim = queue.shift()) {
      for (let done = 0; done < count; done += BATCH) {
        for (let i = 0; i < Math.min(BATCH, count - done); i++) sim.join();
        await sim.drain();
      }
    }
  }));
}

async function register(store: PresenceStore, id: string, at = new Date()): Promise<SimInstance> {
  await store.register(info(id), new Date(at.getTime() - minute), new Date(at.getTime() - minute), at);
  return new SimInstance(id, store);
}

/** One rate for `stepMs`: changes spread over the instances, each flushing whenever its last flush ended. */
async function rampStep(instances: SimInstance[], rate: number, log: StatementLog, probe: ResourceProbe): Promise<RampStep> {
  for (const sim of instances) sim.flushes.length = 0;
  const written = instances.reduce((n, s) => n + s.written, 0);
  const failures = instances.reduce((n, s) => n + s.failures, 0);
  await probe.begin();
  const statements = log.total;
  const start = performance.now();
  let made = 0;
  while (performance.now() - start < plan.stepMs) {
    const due = Math.floor((rate * (performance.now() - start)) / 1000);
    for (; made < due; made++) instances[made % instances.length].change(Math.random());
    for (const sim of instances) void sim.flush();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const backlog = instances.reduce((n, s) => n + s.backlog, 0);
  const deadline = performance.now() + 30_000;
  await Promise.race([Promise.all(instances.map((s) => s.drain())), new Promise((r) => setTimeout(r, deadline - performance.now()))]);
  const elapsed = performance.now() - start;
  const flushes = instances.flatMap((s) => s.flushes);
  const done = instances.reduce((n, s) => n + s.written, 0) - written;
  // The probe's own statements (two SHOW GLOBAL STATUS) are not the workload's.
  const sent = log.total - statements;
  const resources = await probe.end();
  return {
    ...resources, failedFlushes: instances.reduce((n, s) => n + s.failures, 0) - failures, statementsPerChange: done > 0 ? sent / done : NaN, changesPerFlush: flushes.length > 0 ? done / flushes.length : NaN,
    rate, achieved: (done / elapsed) * 1000, flushes: flushes.length, p50: pct(flushes, 50), p99: pct(flushes, 99),
    max: Math.max(...flushes), backlog, load: os.loadavg()[0],
  };
}

async function ramp(backend: Backend, log: StatementLog, sqliteFile: string): Promise<RampStep[]> {
  const table = `scpcap_${randomBytes(4).toString('hex')}`;
  const store = await openStore(backend, table, mysqlUrl, sqliteFile, log);
  try {
    const instances: SimInstance[] = [];
    for (let i = 0; i < plan.rampInstances; i++) instances.push(await register(store, `ramp-${i}`));
    await fill(instances, plan.rampSessions);
    const steps: RampStep[] = [];
    const probe = new ResourceProbe(store);
    for (const rate of plan.rates) {
      const step = await rampStep(instances, rate, log, probe);
      steps.push(step);
      console.log(
        `${backend} ramp ${rate}/s: ${step.achieved.toFixed(0)}/s, flush p50 ${step.p50.toFixed(0)} ms p99 ${step.p99.toFixed(0)} ms, ` +
          `${step.changesPerFlush.toFixed(1)} changes/flush, ${step.statementsPerChange.toFixed(2)} statements/change, bench CPU ${step.benchCpu.toFixed(0)} %, ` +
          `server CPU ${step.serverCpu.toFixed(0)} %, ${step.commitsPerSec.toFixed(0)} commits/s, ${step.fsyncsPerSec.toFixed(0)} fsyncs/s, ` +
          `${step.rowLockWaits} lock waits (${step.rowLockMs} ms), ${step.deadlocks} deadlocks, ${step.failedFlushes} failed flushes, load ${step.load.toFixed(2)}`,
      );
      if (step.p99 > 1000 || step.achieved < 0.9 * rate) break;
    }
    return steps;
  } finally {
    await dropTables(store, table);
    await store.close();
  }
}

/** One transition at a time on `sim`: a join, a status change and a leave, `samples` times each. */
async function transitionLatency(sim: SimInstance, live: number, load: () => number): Promise<LatencyRow> {
  const kinds = { join: [] as number[], status: [] as number[], leave: [] as number[] };
  for (let i = 0; i < plan.samples; i++) {
    for (const [kind, act] of [['join', () => sim.join()], ['status', () => sim.toggleStatus()], ['leave', () => sim.leave()]] as const) {
      act();
      await sim.drain();
      kinds[kind].push(sim.flushes[sim.flushes.length - 1]);
    }
  }
  const all = Object.values(kinds).flat();
  return { live, p50: pct(all, 50), p99: pct(all, 99), join: pct(kinds.join, 50), status: pct(kinds.status, 50), leave: pct(kinds.leave, 50), load: load() };
}

async function periodic(store: PresenceStore, log: StatementLog, own: InstanceInfo, stage: string, rows: number, withPlans: boolean): Promise<CostRow[]> {
  const at = () => new Date();
  const cutoff = () => new Date(Date.now() - 3 * minute);
  // The heartbeat of a quiet instance, and of one that flushes (a write in the last REFRESH_BUSY_MS: its parts are
  // short, so that no flush waits long). An empty batch is a write that sends no statement.
  const quiet = () => new Promise((resolve) => setTimeout(resolve, REFRESH_BUSY_MS + 100));
  const flushing = () => store.write({ upserts: [], removedSockets: [], removedChannels: [] }, own.id, at(), { users: [], deferOffline: false });
  const ops: Array<[string, () => Promise<unknown>, (() => Promise<unknown>)?]> = [
    ['heartbeat', () => store.heartbeat(own, at()), quiet],
    ['heartbeat while flushing', () => store.heartbeat(own, at()), flushing],
    ['leases', () => store.leases(cutoff())],
    ['gc', () => store.collectGarbage(cutoff(), cutoff(), at())],
    ['count users', () => store.count('users')],
    ['count sockets', () => store.count('sockets')],
    ['count subscriptions', () => store.count('subscriptions')],
    ['count users in a channel', () => store.count('users', 'room-1')],
  ];
  const out: CostRow[] = [];
  for (const [op, work, before] of ops) {
    await before?.();
    await work(); // warm: the first run after a fill reads pages the fill pushed out
    await before?.();
    const m = await log.measure(work);
    out.push({ stage, rows, op, statements: m.statements.length, ms: m.ms, load: m.load, plans: withPlans ? await explain(store, m.statements) : [] });
  }
  return out;
}

async function costs(backend: Backend, log: StatementLog, sqliteFile: string): Promise<{ costs: CostRow[]; latency: LatencyRow[] }> {
  const table = `scpcap_${randomBytes(4).toString('hex')}`;
  const store = await openStore(backend, table, mysqlUrl, sqliteFile, log);
  const rowsNow = async () => (await store.count('sockets')) + (await store.count('subscriptions'));
  const load = () => os.loadavg()[0];
  try {
    const ownInfo = info('own');
    const own = await register(store, ownInfo.id);
    await fill([own], plan.ownSessions, 1);
    const ownRows = await rowsNow();
    const result = { costs: await periodic(store, log, ownInfo, 'own rows only', ownRows, true), latency: [] as LatencyRow[] };
    console.log(`${backend}: ${ownRows} own rows measured`);

    // A dead instance (lease expired) among the others, for reaping; the others heartbeat never.
    const old = new Date(Date.now() - 10 * minute);
    const others = [await register(store, 'dead', old)];
    for (let i = 0; i < plan.others - 1; i++) others.push(await register(store, `other-${i}`));
    const perOther = Math.ceil((plan.totalRows / (1 + CHANNELS_PER_SESSION) - plan.ownSessions) / others.length);
    const firstPart = Math.max(0, Math.ceil((plan.liveForLatency - plan.ownSessions) / others.length));
    await fill(others, Math.min(firstPart, perOther));
    result.latency.push(await transitionLatency(own, plan.ownSessions + others.length * Math.min(firstPart, perOther), load));
    console.log(`${backend}: latency at ${result.latency[0].live} live sessions: p50 ${result.latency[0].p50.toFixed(1)} ms`);
    if (perOther > firstPart) await fill(others, perOther - firstPart);
    const fullRows = await rowsNow();
    result.costs.push(...(await periodic(store, log, ownInfo, "own rows among other instances' rows", fullRows, true)));
    result.latency.push(await transitionLatency(own, plan.ownSessions + others.length * perOther, load));
    const reap = await log.measure(() => store.reapInstance('dead', new Date(Date.now() - minute), new Date()));
    const reapedRows = (others[0].sessions.size * (1 + CHANNELS_PER_SESSION)).toLocaleString('en');
    result.costs.push({
      stage: `reap an instance of ${reapedRows} rows`, rows: fullRows, op: 'reap', statements: reap.statements.length,
      ms: reap.ms, load: reap.load, plans: await explain(store, reap.statements.slice(0, 4)),
    });
    console.log(`${backend}: ${fullRows} rows measured`);
    return result;
  } finally {
    await dropTables(store, table);
    await store.close();
  }
}

async function main(): Promise<void> {
  const results: StoreResults = { quick, args: process.argv.slice(2), started: new Date().toISOString(), cores: os.cpus().length, loadBefore: os.loadavg(), plan, backends: [] };
  for (const backend of plan.backends) {
    const sqliteFile = join(os.tmpdir(), `scp-store-${process.pid}-${backend}.sqlite`);
    const log = new StatementLog();
    try {
      const steps = await ramp(backend, log, sqliteFile);
      rmSync(sqliteFile, { force: true });
      const measured = plan.rampOnly ? { costs: [], latency: [] } : await costs(backend, log, sqliteFile);
      results.backends.push({ backend, steps, ...measured });
    } finally {
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(sqliteFile + suffix, { force: true });
    }
  }
  results.loadAfter = os.loadavg();
  // A full run's chart goes to docs/, which the package ships, so that the README shows it on the registry page too;
  // a quick run's, or one written elsewhere with --out, next to its results.
  const chart = quick || argv.out !== undefined ? plan.out.replace(/\.md$/, '.svg') : join(BENCH_DIR, '..', 'docs', basename(plan.out).replace(/\.md$/, '.svg'));
  writeStoreReport(results, plan.out, chart);
  writeStoreChart(results, chart);
  console.log(`wrote ${plan.out}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
