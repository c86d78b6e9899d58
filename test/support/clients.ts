import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import type { AGServer } from 'socketcluster-server';

export interface ClientOptions {
  /** A token payload: signed with the server's key and presented during the handshake. */
  token?: Record<string, unknown>;
  /** A signed token presented verbatim (valid or not); takes the place of `token`. */
  signedToken?: string;
  origin?: string;
  /** Reconnect on its own after 50-100 ms (presenting the same token at every handshake). Default: no. */
  reconnect?: boolean;
}

/** Signs a token payload the way the server's own `socket.setAuthToken` would. */
export function signToken(server: AGServer, payload: Record<string, unknown>): Promise<string> {
  return server.auth.signToken(payload, server.signatureKey!, server.defaultSignatureOptions as never) as Promise<string>;
}

/** Signs a payload with any key and options (a forged or expired token), bypassing the server's defaults. */
export function signRaw(server: AGServer, payload: Record<string, unknown>, key: string, options: Record<string, unknown> = {}): Promise<string> {
  return server.auth.signToken(payload, key, options as never) as Promise<string>;
}

/**
 * A real socketcluster-client socket, connected, presenting a token at handshake when one is given. Resolves
 * once connected, whatever the server made of the token.
 */
export async function connectClient(port: number, server: AGServer, options: ClientOptions = {}): Promise<AGClientSocket> {
  const signed = options.signedToken ?? (options.token ? await signToken(server, options.token) : null);
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    path: '/socketcluster/',
    autoReconnect: options.reconnect === true,
    autoReconnectOptions: { initialDelay: 50, randomness: 0, multiplier: 1, maxDelay: 100 },
    connectTimeout: 5000,
    authEngine: {
      saveToken: async (_name: string, token: string) => token,
      removeToken: async () => null,
      loadToken: async () => signed,
    } as never,
    wsOptions: options.origin ? { origin: options.origin } : undefined,
  } as never);
  const connected = socket.listener('connect').once(5000);
  const failed = socket.listener('error').once(5000).then(({ error }) => Promise.reject(error));
  await Promise.race([connected, failed]);
  return socket;
}

/** Subscribes and waits until the server has accepted the subscription. */
export async function subscribe(socket: AGClientSocket, channel: string) {
  const ch = socket.subscribe(channel);
  await Promise.race([
    ch.listener('subscribe').once(5000),
    ch.listener('subscribeFail').once(5000).then(({ error }) => Promise.reject(error)),
  ]);
  return ch;
}

/** Collects what is published on `channel` for this socket. */
export function collect<T = unknown>(socket: AGClientSocket, channel: string) {
  const received: T[] = [];
  const ch = socket.subscribe(channel);
  void (async () => {
    for await (const data of ch) received.push(data as T);
  })();
  return {
    received,
    ready: () => ch.listener('subscribe').once(5000),
    last: () => received[received.length - 1],
  };
}

export async function disconnectAll(...sockets: AGClientSocket[]): Promise<void> {
  for (const socket of sockets) {
    socket.disconnect();
    socket.killAllListeners();
  }
}
