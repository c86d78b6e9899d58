import { createRequire } from 'node:module';
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';

/** socketcluster-server's own JWT engine (a dependency of it), so that tokens are signed exactly as the servers expect. */
interface JwtEngine {
  signToken(token: object, key: string, options?: object): Promise<string>;
}
const AuthEngine = createRequire(import.meta.url)('ag-auth') as new () => JwtEngine;
const engine = new AuthEngine();

/** Signs `{ user_id }` with the authKey every instance shares (socketcluster's default expiry, one day). */
export function signUserToken(authKey: string, userId: string): Promise<string> {
  return engine.signToken({ user_id: userId }, authKey, { expiresIn: 86400 });
}

export interface ConnectOptions {
  /** Authenticated at handshake with a token signed for this user; anonymous without. */
  userId?: string;
  /** A token signed elsewhere (e.g. by the app), presented at the handshake instead. */
  signedToken?: string;
  authKey: string;
  ackTimeout?: number;
}

/**
 * A client socket to an instance, connected (autoReconnect off): resolves once the handshake is done.
 *
 * With the fixtures' 200 ms pingInterval, a handshake that a busy instance has not finished within one ping
 * makes socketcluster-server (strictHandshake) close the socket with 4009 when the client answers the ping.
 * Such a socket never connected, so the instance never tracked it: it is simply opened again.
 */
/** How many connection attempts ended with 4009 and were opened again (reported by the tests). */
export const connectStats = { reopenedAfter4009: 0 };

export async function connectTo(port: number, options: ConnectOptions, attempts = 5): Promise<AGClientSocket> {
  const signed = options.signedToken ?? (options.userId === undefined ? null : await signUserToken(options.authKey, options.userId));
  for (let attempt = 1; ; attempt++) {
    const socket = socketClusterClient.create({
      hostname: '127.0.0.1',
      port,
      path: '/socketcluster/',
      autoReconnect: false,
      connectTimeout: 10_000,
      ackTimeout: options.ackTimeout ?? 10_000,
      authEngine: {
        saveToken: async (_name: string, token: string) => token,
        removeToken: async () => null,
        loadToken: async () => signed,
      } as never,
    });
    const outcome = await new Promise<'connected' | { code: number } | Error>((resolve) => {
      void (async () => {
        for await (const _ of socket.listener('connect')) return resolve('connected');
      })();
      void (async () => {
        for await (const { error } of socket.listener('error')) return resolve(error);
      })();
      void (async () => {
        for await (const { code } of socket.listener('close')) return resolve({ code });
      })();
    });
    if (outcome === 'connected') return socket;
    closeSockets([socket]);
    const early = (outcome as { code?: number }).code === 4009;
    if (early) connectStats.reopenedAfter4009++;
    if (!early || attempt >= attempts) {
      throw outcome instanceof Error ? outcome : new Error(`closed with code ${outcome.code} while connecting to ${port}`);
    }
  }
}

/** Opens many sockets, `concurrency` at a time, in the order of `specs`. */
export async function connectMany(specs: Array<{ port: number; userId?: string }>, authKey: string, concurrency = 20): Promise<AGClientSocket[]> {
  const sockets: AGClientSocket[] = new Array(specs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, specs.length) }, async () => {
      while (next < specs.length) {
        const i = next++;
        sockets[i] = await connectTo(specs[i].port, { userId: specs[i].userId, authKey });
      }
    }),
  );
  return sockets;
}

/** Subscribes and waits until the instance has accepted the subscription. */
export async function subscribeTo(socket: AGClientSocket, channel: string) {
  const ch = socket.subscribe(channel);
  await Promise.race([
    ch.listener('subscribe').once(5000),
    ch.listener('subscribeFail').once(5000).then(({ error }) => Promise.reject(error)),
  ]);
  return ch;
}

/** Everything published on `channel` that reaches this socket; `ready` resolves once the subscription is accepted. */
export function receive<T = unknown>(socket: AGClientSocket, channel: string) {
  const received: Array<{ value: T; at: number }> = [];
  const ch = socket.subscribe(channel);
  const ready = Promise.race([
    ch.listener('subscribe').once(5000),
    ch.listener('subscribeFail').once(5000).then(({ error }) => Promise.reject(error)),
  ]);
  ready.catch(() => undefined);
  void (async () => {
    for await (const value of ch) received.push({ value: value as T, at: Date.now() });
  })();
  return {
    received,
    ready: () => ready,
    values: () => received.map((r) => r.value),
    last: () => received[received.length - 1]?.value,
  };
}

/** Disconnects and ends every listener, channel and timer of these sockets. */
export function closeSockets(sockets: Iterable<AGClientSocket | undefined>): void {
  for (const socket of sockets) {
    if (!socket) continue;
    socket.disconnect();
    socket.killAllChannels();
    socket.killAllListeners();
  }
}
