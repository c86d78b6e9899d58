/**
 * The load generator, a process of its own (started by bench/run.ts): real socketcluster-client sockets, each a
 * distinct user presenting a signed token at the handshake, each subscribed to 2 channels. Commands arrive over
 * the IPC channel: connect a group of sockets, set some of them idle, disconnect them all at once or at a
 * steady rate (from `offsetMs` on, so that several load processes can share one schedule). Every loop here is bounded by the group size and by a deadline.
 */
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import {
  benchState, notify, now, serve, signToken, sleep, type ConnectArgs, type ConnectResult, type DisconnectResult, type IdleResult,
  type StateArgs, type StateResult,
} from './common.js';

interface Client {
  userId: string;
  socket: AGClientSocket;
}

let group: Client[] = [];

/** Resolves with the first value of `stream`, rejects on the first error value or after `ms`. */
function first<T>(stream: AsyncIterable<T>, failures: AsyncIterable<{ error: Error }> | null, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    void (async () => {
      for await (const value of stream) return settle(() => resolve(value));
    })();
    if (failures) {
      void (async () => {
        for await (const { error } of failures) return settle(() => reject(error));
      })();
    }
  });
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` at a time. */
async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

function close(client: Client): void {
  client.socket.disconnect();
  client.socket.killAllChannels();
  client.socket.killAllListeners();
}

async function connect(args: ConnectArgs): Promise<ConnectResult> {
  for (const client of group.splice(0)) close(client);
  const deadline = Date.now() + args.timeoutMs;
  // Tokens are signed before the clock starts: a real client already holds its token.
  const tokens = Array.from({ length: args.n }, (_, i) => signToken({ user_id: `${args.prefix}${i}` }, args.authKey));
  const errors: string[] = [];
  let ok = 0;
  let notAuthenticated = 0;
  let tEnd = 0;
  const clients: Client[] = new Array(args.n);
  const t0 = now();
  await pool(args.n, args.concurrency, async (i) => {
    if (Date.now() > deadline) {
      if (errors.length < 5) errors.push(`socket ${i}: not started before the deadline`);
      return;
    }
    const token = tokens[i];
    const socket = socketClusterClient.create({
      hostname: '127.0.0.1',
      port: args.port,
      path: '/socketcluster/',
      autoReconnect: false,
      // Generous: on a machine shared with other work a handshake can wait its turn for long; that is not a failure.
      connectTimeout: 30_000,
      authEngine: {
        saveToken: async (_name: string, value: string) => value,
        removeToken: async () => null,
        loadToken: async () => token,
      } as never,
    } as never);
    const client: Client = { userId: `${args.prefix}${i}`, socket };
    clients[i] = client;
    try {
      const left = () => Math.max(1000, deadline - Date.now());
      const status = await first(socket.listener('connect'), socket.listener('error'), left(), 'connect');
      if (!status.isAuthenticated) notAuthenticated++;
      const channels = ['bench:lobby', `bench:room:${i % 50}`].map((name) => socket.subscribe(name));
      await Promise.all(
        channels.map((channel) => first(channel.listener('subscribe'), channel.listener('subscribeFail'), left(), `subscribe ${channel.name}`)),
      );
      tEnd = Math.max(tEnd, now());
      ok++;
    } catch (error) {
      if (errors.length < 5) errors.push(`socket ${i}: ${(error as Error).message}`);
    }
  });
  group = clients.filter(Boolean);
  return { ok, failed: args.n - ok, notAuthenticated, errors, t0, tEnd };
}

/** Sockets whose index is 0, 1 or 2 modulo 10 (30 % with the default fraction) go idle. */
async function idle({ fraction, concurrency, timeoutMs }: { fraction: number; concurrency: number; timeoutMs: number }): Promise<IdleResult> {
  const every = Math.round(fraction * 10);
  const chosen = group.filter((_, i) => i % 10 < every);
  const errors: string[] = [];
  let failed = 0;
  const deadline = Date.now() + timeoutMs;
  const t0 = now();
  await pool(chosen.length, concurrency, async (i) => {
    try {
      if (Date.now() > deadline) throw new Error('not sent before the deadline');
      await chosen[i].socket.invoke('presence.setStatus', 'idle');
    } catch (error) {
      failed++;
      if (errors.length < 5) errors.push(`${chosen[i].userId}: ${(error as Error).message}`);
    }
  });
  return { idle: chosen.length - failed, failed, errors, t0, t1: now() };
}

/**
 * Every socket sets its state `times` times over `durationMs` without waiting for the answers (a client typing):
 * the k-th change of socket i is due at (k + i / n) × durationMs / times, so the calls of the group are spread
 * evenly, sent on a fixed schedule (a late tick sends the ones that are due).
 */
async function state({ times, durationMs, timeoutMs }: StateArgs): Promise<StateResult> {
  const n = group.length;
  const step = durationMs / times;
  const errors: string[] = [];
  let failed = 0;
  let late = 0;
  const answers: Array<Promise<unknown>> = [];
  const deadline = Date.now() + timeoutMs;
  const t0 = now();
  let next = 0; // calls sent, in due order: call c is change (c div n) + 1 of socket (c mod n)
  while (next < n * times) {
    if (Date.now() > deadline) throw new Error(`state: ${n * times - next} calls not sent before the deadline`);
    const due = Math.min(n * times, Math.floor(((now() - t0) / step) * n) + 1);
    for (; next < due; next++) {
      const client = group[next % n];
      const k = Math.floor(next / n) + 1;
      answers.push(
        client.socket.invoke('presence.setState', benchState(k)).catch((error: Error) => {
          failed++;
          if (/not stored yet|timed out/.test(error.message)) late++;
          if (errors.length < 5) errors.push(`${client.userId} change ${k}: ${error.message}`);
        }),
      );
    }
    if (next < n * times) await sleep(Math.max(1, t0 + (next / n) * step - now()));
  }
  const tSent = now();
  await Promise.all(answers);
  return { calls: n * times, failed, late, errors, t0, tSent, t1: now() };
}

/**
 * Without `rate`: every socket at once. With `rate` (per second): one socket every 1000 / rate ms, on a fixed
 * schedule (a late tick sends the ones that are due), so the rate stays steady.
 */
async function disconnect({ rate, offsetMs = 0, timeoutMs }: { rate?: number; offsetMs?: number; timeoutMs: number }): Promise<DisconnectResult> {
  const clients = group.splice(0);
  const sent: Array<[string, number]> = [];
  const deadline = Date.now() + timeoutMs;
  if (!rate) {
    for (const client of clients) {
      sent.push([client.userId, now()]);
      close(client);
    }
  } else {
    const interval = 1000 / rate;
    const start = now() + offsetMs;
    if (offsetMs > 0) await sleep(offsetMs);
    let i = 0;
    while (i < clients.length) {
      if (Date.now() > deadline) {
        for (const client of clients.slice(i)) close(client);
        throw new Error(`paced disconnect: ${clients.length - i} sockets not sent before the deadline`);
      }
      const due = Math.min(clients.length, Math.floor((now() - start) / interval) + 1);
      for (; i < due; i++) {
        sent.push([clients[i].userId, now()]);
        close(clients[i]);
      }
      if (i < clients.length) await sleep(Math.max(0, start + i * interval - now()));
    }
  }
  return { sent, tFirst: sent[0]?.[1] ?? now(), tLast: sent[sent.length - 1]?.[1] ?? now() };
}

serve({
  cpu: () => process.cpuUsage(),
  connect,
  idle,
  state,
  disconnect,
  exit: () => {
    for (const client of group.splice(0)) close(client);
    setTimeout(() => process.exit(0), 50);
  },
});
notify('ready');
