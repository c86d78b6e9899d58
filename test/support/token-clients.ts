import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import type { AGServer } from 'socketcluster-server';

/** Signs a payload with any key and options (a forged or expired token), bypassing the server's defaults. */
export function signRaw(server: AGServer, payload: Record<string, unknown>, key: string, options: Record<string, unknown> = {}): Promise<string> {
  return server.auth.signToken(payload, key, options as never) as Promise<string>;
}

/**
 * A socketcluster-client socket that presents `signedToken` verbatim at handshake (any string, valid or not).
 * Resolves once connected, whatever the server made of the token.
 */
export async function connectWithSignedToken(port: number, signedToken: string): Promise<AGClientSocket> {
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    path: '/socketcluster/',
    autoReconnect: false,
    connectTimeout: 5000,
    authEngine: {
      saveToken: async (_name: string, token: string) => token,
      removeToken: async () => null,
      loadToken: async () => signedToken,
    } as never,
  } as never);
  await new Promise<void>((resolve, reject) => {
    void (async () => {
      for await (const _ of socket.listener('connect')) return resolve();
    })();
    void (async () => {
      for await (const { error } of socket.listener('error')) return reject(error);
    })();
  });
  return socket;
}
