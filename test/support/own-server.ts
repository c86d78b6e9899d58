import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import socketClusterServer, { type AGServer } from 'socketcluster-server';

/**
 * An AGServer of the app's own on an ephemeral port, as an app that passes `server` would have. `cleanups`
 * receives what closes it.
 */
export async function listenAgServer(cleanups: Array<() => Promise<void> | void>): Promise<{ server: AGServer; port: number }> {
  const server = socketClusterServer.listen(0);
  if (!server.httpServer.listening) await once(server.httpServer, 'listening');
  cleanups.push(async () => {
    await server.close().catch(() => undefined);
    await new Promise((resolve) => server.httpServer.close(resolve));
  });
  return { server, port: (server.httpServer.address() as AddressInfo).port };
}
