import type { PresenceEvent, UserStatusEvent, CleanupEvent } from '../../../src/index.js';
import { assertBuilt, freePort, spawnNode, spawnTsFixture, type ManagedProcess } from './processes.js';
import type { InstanceConfig, LiveSocketView } from './protocol.js';

const STATE_SERVER = 'test/cluster/fixtures/scc-state-server.ts';
const INSTANCE = 'test/cluster/fixtures/presence-instance.ts';
const BROKER = 'node_modules/scc-broker/server.js';

/** Events as they arrive over stdout: JSON, so dates are strings. */
export type Wire<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] };
export type WireEvent = Wire<PresenceEvent>;
export type WireUserEvent = Wire<UserStatusEvent>;
export type WireCleanup = Wire<CleanupEvent>;

export interface StateServer {
  process: ManagedProcess;
  port: number;
}

/** The scc-state stand-in (see its file), on a port of its own. */
export async function startStateServer(): Promise<StateServer> {
  const process = spawnTsFixture('scc-state', STATE_SERVER);
  const ready = await process.waitFor((l) => l.kind === 'ready', 20_000, 'ready line');
  return { process, port: ready.port as number };
}

/** A real scc-broker from npm, registered with the state server; resolves once the state server has it. */
export async function startBroker(state: StateServer): Promise<{ process: ManagedProcess; port: number; uri: string }> {
  const port = await freePort();
  const process = spawnNode('scc-broker', [BROKER], {
    SCC_BROKER_SERVER_PORT: String(port),
    SCC_STATE_SERVER_HOST: '127.0.0.1',
    SCC_STATE_SERVER_PORT: String(state.port),
  });
  const joined = await state.process.waitFor(
    (l) => l.kind === 'brokerJoined' && typeof l.uri === 'string' && l.uri.endsWith(`:${port}`),
    20_000,
    `scc-broker on port ${port} joining`,
  );
  return { process, port, uri: joined.uri as string };
}

/** One presence instance process (test/cluster/fixtures/presence-instance.ts). */
export class Instance {
  constructor(
    readonly name: string,
    readonly process: ManagedProcess,
    readonly port: number,
    readonly id: string,
  ) {}

  /** Every hook call of this process so far. */
  get events(): WireEvent[] {
    return this.process.lines.filter((l) => l.kind === 'event').map((l) => l.event as WireEvent);
  }

  get alive(): boolean {
    return this.process.alive;
  }

  /** The sockets its SocketCluster server holds, asked over HTTP (asking adds no socket). */
  async liveSockets(): Promise<LiveSocketView[]> {
    const response = await fetch(`http://127.0.0.1:${this.port}/fixture/sockets`, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) throw new Error(`${this.name}: GET /fixture/sockets answered ${response.status}`);
    return (await response.json()) as LiveSocketView[];
  }
}

export async function startInstance(name: string, config: InstanceConfig): Promise<Instance> {
  return spawnInstance(name, config).ready;
}

/** Starts an instance process and returns it at once, with the Instance it becomes once it is ready. */
export function spawnInstance(name: string, config: InstanceConfig): { process: ManagedProcess; ready: Promise<Instance> } {
  assertBuilt();
  const process = spawnTsFixture(name, INSTANCE, { PRESENCE_INSTANCE: JSON.stringify(config) });
  const ready = process.waitFor((l) => l.kind === 'ready', 60_000, 'ready line').then(
    (line) => new Instance(name, process, line.port as number, line.instanceId as string),
  );
  return { process, ready };
}

/** The events of several processes, each with the process it came from. */
export function eventsOf(instances: Instance[], since?: Map<Instance, number>): Array<{ from: Instance; event: WireEvent }> {
  return instances.flatMap((from) => from.events.slice(since?.get(from) ?? 0).map((event) => ({ from, event })));
}

/** Where each process's event list stands now: count what comes after with `eventsOf(instances, mark)`. */
export function markEvents(instances: Instance[]): Map<Instance, number> {
  return new Map(instances.map((i) => [i, i.events.length]));
}

export const isUserEvent = (e: WireEvent): e is WireUserEvent => e.type.startsWith('user.');
export const isCleanup = (e: WireEvent): e is WireCleanup => e.type === 'cleanup';
