/**
 * Fresh servers side by side ([1c], [2c]). The runs take each mode's first storm a minute or more after the
 * other modes' (each mode's run has its other phases in between), and on a machine whose speed drifts the plain
 * storm of a run can then be a fifth faster or slower than the presence storms it is divided by. Here, in each
 * round, one fresh server of every kind (each with a fresh load process of its own, as in the runs) is started
 * and warmed up by 100 sockets; then each takes its first storm of N sockets, one right after another, each
 * after a wait for a quiet machine, in the Williams order of the running servers. A round's ratios compare first
 * storms of fresh processes taken seconds apart.
 */
import { findDatabasePid, untilQuiet } from './measurements.js';
import { opts, progress } from './options.js';
import { startLoads, type LoadGroup } from './processes.js';
import {
  balancedOrders, db, endRound, kindsOf, measuredStorm, medianRatios, startAll, stopAll, type Running, type RunningKind, type RunningResult,
} from './running.js';
import { warmUp } from './runs.js';

/** Like the running servers' result: per kind, each round's first storm and its server's CPU; no quiet waits kept. */
export type FreshResult = Omit<RunningResult, 'quietWaits'>;

export async function runFresh(): Promise<FreshResult | undefined> {
  const rounds = opts.freshRounds;
  if (rounds === 0 || !opts.modes.includes('plain')) return undefined;
  const kinds = kindsOf();
  const orders = balancedOrders(kinds.length);
  const dbPid = opts.modes.includes('mariadb') ? findDatabasePid() : undefined;
  const result: FreshResult = { rounds, throughputs: {}, ratios: {}, serverCpu: {}, serverMainCpu: {} };
  for (let round = 1; round <= rounds; round++) {
    let servers: Running[] = [];
    const loads: LoadGroup[] = [];
    try {
      servers = await startAll(kinds, `fresh${round}`);
      for (const r of servers) loads.push(await startLoads(`load#fresh${round}-${r.kind}`, opts.loadProcesses));
      for (const [i, r] of servers.entries()) await warmUp(round, r.server, loads[i], r.authKey, db(r));
      const of: Partial<Record<RunningKind, number>> = {};
      for (const i of orders[(round - 1) % orders.length]) {
        const r = servers[i];
        await untilQuiet();
        of[r.kind] = await measuredStorm(result, r, loads[i], `${r.kind} fresh storm ${round}`, `F${round}-`, dbPid);
      }
      endRound(result, kinds, of, `fresh round ${round}`);
    } finally {
      await stopAll(servers);
      for (const load of loads) await load.stop();
    }
  }
  progress(`fresh servers, ${rounds} rounds: ${medianRatios(result, kinds)}`);
  return result;
}
