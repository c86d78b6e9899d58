/**
 * The running servers ([1b], [2b]): one server of each kind, all up at once and past their first storms, take
 * storms of N sockets in turns, round after round, from one load group. A round's ratios compare storms taken
 * within seconds of each other, so that the machine's drift (other work, frequency) falls on every kind alike.
 * Each storm waits for the machine to be quiet first, and the rounds' orders are such that each server follows
 * every other equally often: what a storm leaves behind (MariaDB purging the rows just deleted, a collection)
 * would otherwise fall on whichever server always came next.
 * None of these servers has its heap read: no forced full collection, which a server in production never has,
 * falls between their storms.
 */
import { randomBytes } from 'node:crypto';
import { cpuDiff, cpuNow, findDatabasePid, median, untilQuiet } from './measurements.js';
import { N, opts, progress } from './options.js';
import { startLoads, startServer, stopChild, type LoadGroup, type ServerHandle } from './processes.js';
import { openPresenceServer, stormAndBack, throughputOf, warmUp, type PresenceServer } from './runs.js';

export type RunningKind = 'plain' | 'plain-mw' | 'sqlite' | 'mariadb';

export interface RunningResult {
  rounds: number;
  /** Per kind, the throughput of its storm in each round (sockets/s). */
  throughputs: Partial<Record<RunningKind, number[]>>;
  /** Per kind but plain, its storm's throughput ÷ plain's of the same round. */
  ratios: Partial<Record<Exclude<RunningKind, 'plain'>, number[]>>;
  /** Per kind, server CPU ms per 1000 sockets of each round's whole storm: connected (stored), disconnected (removed). */
  serverCpu: Partial<Record<RunningKind, number[]>>;
  /** The server's main thread alone (see `Cpu.serverMain`), ms per 1000 sockets. */
  serverMainCpu: Partial<Record<RunningKind, number[]>>;
  /** How long each storm waited for the machine to be quiet (ms). */
  quietWaits: number[];
}

export interface Running {
  kind: RunningKind;
  server: ServerHandle;
  authKey: string;
  presence?: PresenceServer;
}

/** Untimed storms each server takes after its warm-up and before the rounds: its code compiled, its caches warm. */
const FIRST_STORMS = 2;

export const db = (r: Running) => (r.presence ? { outside: r.presence.db, table: r.presence.table } : undefined);

export async function startAll(kinds: RunningKind[], name = 'running'): Promise<Running[]> {
  const started: Running[] = [];
  try {
    for (const kind of kinds) {
      if (kind === 'sqlite' || kind === 'mariadb') {
        const presence = await openPresenceServer(kind, `${kind}#${name}`, { pingInterval: opts.defaultPingInterval });
        started.push({ kind, server: presence.server, authKey: presence.authKey, presence });
      } else {
        const authKey = randomBytes(16).toString('hex');
        const server = await startServer(`${kind}#${name}`, { mode: 'plain', passThroughMiddleware: kind === 'plain-mw', authKey, pingInterval: opts.defaultPingInterval });
        started.push({ kind, server, authKey });
      }
    }
    return started;
  } catch (error) {
    await stopAll(started);
    throw error;
  }
}

export async function stopAll(servers: Running[]): Promise<void> {
  for (const r of servers) await (r.presence ? r.presence.close() : stopChild(r.server.peer));
}

/**
 * The server order of each round, as indexes: a Williams design, in which each server comes right after each
 * other one equally often over a full cycle of rows (n rows for an even n, 2n for an odd one).
 */
export function balancedOrders(n: number): number[][] {
  const first = [0];
  for (let k = 1; k < n; k++) first.push(k % 2 === 1 ? (k + 1) / 2 : n - k / 2);
  const rows = Array.from({ length: n }, (_, i) => first.map((x) => (x + i) % n));
  return n % 2 === 0 ? rows : [...rows, ...rows.map((row) => [...row].reverse())];
}

/** The servers' kinds this run has: plain always (the ratios need it), the others as `--modes` says. */
export function kindsOf(): RunningKind[] {
  const kinds: RunningKind[] = ['plain'];
  if (opts.passThroughPlain) kinds.push('plain-mw');
  for (const mode of opts.modes) if (mode !== 'plain') kinds.push(mode);
  return kinds;
}

/**
 * One storm of N sockets on `r` and back (see `stormAndBack`), recorded in `into`: its throughput, and the server's
 * CPU over the whole storm in ms per 1000 sockets. Returns the throughput.
 */
export async function measuredStorm(
  into: Pick<RunningResult, 'throughputs' | 'serverCpu' | 'serverMainCpu'>, r: Running, load: LoadGroup, what: string, prefix: string, dbPid?: number,
): Promise<number> {
  const cpu0 = await cpuNow(r.server.peer, load, dbPid);
  const storm = await stormAndBack(what, prefix, r.server, load, r.authKey, db(r));
  const cpu = cpuDiff(cpu0, await cpuNow(r.server.peer, load, dbPid));
  const throughput = throughputOf(storm);
  (into.throughputs[r.kind] ??= []).push(throughput);
  (into.serverCpu[r.kind] ??= []).push((cpu.server / N) * 1000);
  if (cpu.serverMain !== undefined) (into.serverMainCpu[r.kind] ??= []).push((cpu.serverMain / N) * 1000);
  return throughput;
}

/** Records a round's ratios to plain's storm of the same round, and says the round's throughputs. */
export function endRound(into: Pick<RunningResult, 'ratios'>, kinds: RunningKind[], of: Partial<Record<RunningKind, number>>, label: string): void {
  for (const kind of kinds) if (kind !== 'plain') (into.ratios[kind] ??= []).push(of[kind]! / of.plain!);
  progress(`${label}: ` + kinds.map((kind) => `${kind} ${of[kind]!.toFixed(0)}`).join(', ') + ' sockets/s');
}

/** Each kind's median ratio to plain over the rounds, for the progress line. */
export function medianRatios(of: Pick<RunningResult, 'ratios'>, kinds: RunningKind[]): string {
  return kinds.filter((kind) => kind !== 'plain').map((kind) => `${kind} ${median(of.ratios[kind as Exclude<RunningKind, 'plain'>]!).toFixed(2)}× plain`).join(', ');
}

export async function runRunning(): Promise<RunningResult | undefined> {
  const rounds = opts.repeatStorms;
  if (rounds === 0 || !opts.modes.includes('plain')) return undefined;
  const kinds = kindsOf();
  const result: RunningResult = { rounds, throughputs: {}, ratios: {}, serverCpu: {}, serverMainCpu: {}, quietWaits: [] };
  const load: LoadGroup = await startLoads('load#running', opts.loadProcesses);
  const dbPid = opts.modes.includes('mariadb') ? findDatabasePid() : undefined;
  let servers: Running[] = [];
  try {
    servers = await startAll(kinds);
    for (const r of servers) {
      await warmUp(0, r.server, load, r.authKey, db(r));
      for (let k = 1; k <= FIRST_STORMS; k++) await stormAndBack(`${r.kind} first storm ${k}`, `f${k}-`, r.server, load, r.authKey, db(r));
    }
    const orders = balancedOrders(servers.length);
    for (let round = 1; round <= rounds; round++) {
      const order = orders[(round - 1) % orders.length].map((i) => servers[i]);
      const of: Partial<Record<RunningKind, number>> = {};
      for (const r of order) {
        result.quietWaits.push(await untilQuiet());
        of[r.kind] = await measuredStorm(result, r, load, `${r.kind} round ${round}`, `R${round}-`, dbPid);
      }
      endRound(result, kinds, of, `running round ${round}`);
    }
    progress(`running servers, ${rounds} rounds: ${medianRatios(result, kinds)}`);
    return result;
  } finally {
    await stopAll(servers);
    await load.stop();
  }
}
