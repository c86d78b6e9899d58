import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger, type INestApplicationContext, type WsMessageHandler } from '@nestjs/common';
import { AbstractWsAdapter } from '@nestjs/websockets';
import { lastValueFrom, type Observable } from 'rxjs';
import scServer, { type AGServer, type AGServerSocket } from 'socketcluster-server';
import { AgServerHost } from './ag-server.host.js';
import { answerProcedure, consumeListener, type ListenerLoop } from './listener-loop.util.js';

/** The handler call in progress, to which an exception filter's `client.emit('exception', …)` belongs. */
const calls = new AsyncLocalStorage<{ exception?: { payload: unknown } }>();

/** A handler's error as Nest's exception filter put it for the client (`{ status: 'error', message }`). */
class FilteredException extends Error {
  override readonly name = 'WsException';
  constructor(readonly payload: unknown) {
    const message = (payload as { message?: unknown } | null)?.message;
    super(typeof message === 'string' ? message : JSON.stringify(payload));
    // SocketCluster sends an error's own properties to the client with its name and message.
    if (payload !== null && typeof payload === 'object') Object.assign(this, payload, { message: this.message });
  }
}

const CATCHING = Symbol('nestjs-sc-presence.catchingExceptions');

/**
 * Nest's exception filters tell the client with `client.emit('exception', payload)`, which on an AGServerSocket
 * is a server-side event that never reaches the client. Within a handler call it becomes that call's failure.
 */
function catchFilteredExceptions(client: AGServerSocket): void {
  const socket = client as AGServerSocket & { [CATCHING]?: true };
  if (socket[CATCHING]) return;
  socket[CATCHING] = true;
  const emit = client.emit.bind(client) as (event: string, data: unknown) => void;
  (client as unknown as { emit: (event: string, data: unknown) => void }).emit = (event, data) => {
    const call = event === 'exception' ? calls.getStore() : undefined;
    if (call) call.exception ??= { payload: data };
    emit(event, data);
  };
}

/** Runs a handler call; what an exception filter emitted during it rejects it. */
async function filtered<T>(handle: () => Promise<T>): Promise<T> {
  const call: { exception?: { payload: unknown } } = {};
  const result = await calls.run(call, handle);
  if (call.exception) throw new FilteredException(call.exception.payload);
  return result;
}

/**
 * Runs `@WebSocketGateway()` gateways over SocketCluster. A `@SubscribeMessage('name')` handler answers both
 * `socket.transmit('name', data)` and `socket.invoke('name', data)`: the invoke resolves with the handler's
 * return value. An exception goes to Nest's WebSocket exception filters as in any gateway, and what the filter
 * sends the client (the default one: a `WsException`'s message, `'Internal server error'` for any other error)
 * rejects the invoke with an error named `WsException` carrying that payload's fields; after a transmit, the
 * client receives it as an `'exception'` event (`socket.receiver('exception')`).
 *
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new SocketClusterAdapter(app));
 * ```
 *
 * Gateways without a port of their own share PresenceModule's server (one SocketCluster endpoint at
 * `/socketcluster/`); with a port, the adapter starts a separate server on it.
 */
export class SocketClusterAdapter extends AbstractWsAdapter<any, any, AGServer.AGServerOptions> {
  private readonly logger = new Logger('SocketClusterAdapter');
  private readonly created = new Set<AGServer>();
  private readonly loops = new Map<AGServer, ListenerLoop[]>();

  constructor(private readonly app?: INestApplicationContext) {
    super(app);
  }

  create(port: number, options: AGServer.AGServerOptions & { namespace?: string } = {}): AGServer {
    const { namespace: _namespace, ...scOptions } = options;
    if (!port) {
      const shared = this.presenceHost();
      if (shared) return shared.get();
    }
    const server = port
      ? scServer.listen(port, scOptions)
      : scServer.attach(this.httpServer, { path: '/socketcluster/', ...scOptions });
    this.created.add(server);
    return server;
  }

  override bindClientConnect(server: AGServer, callback: (socket: AGServerSocket) => void): void {
    const loop = consumeListener<{ socket: AGServerSocket }>(server, 'connection', ({ socket }) => callback(socket), (error) =>
      this.logger.error(`gateway connection handler failed: ${error.message}`),
    );
    this.loops.set(server, [...(this.loops.get(server) ?? []), loop]);
  }

  /** Calls back once the socket has closed, however it closed. */
  override bindClientDisconnect(client: AGServerSocket, callback: (socket: AGServerSocket) => void): void {
    void (async () => {
      await client.listener('close').once();
      callback(client);
    })();
  }

  bindMessageHandlers(client: AGServerSocket, handlers: WsMessageHandler[], transform: (data: any) => Observable<any>): void {
    catchFilteredExceptions(client);
    for (const { message, callback } of handlers) {
      const name = String(message);
      const run = (data: unknown) =>
        filtered(() => lastValueFrom(transform(callback(data, name)), { defaultValue: undefined }));
      void (async () => {
        for await (const data of client.receiver(name)) {
          await run(data).catch((error: Error) => {
            // A transmit has no reply: the client hears of the failure as an 'exception' event, as with Nest's own adapters.
            if (error instanceof FilteredException) client.transmit('exception', error.payload, {});
            else this.logger.error(`'${name}' handler failed: ${error.message}`);
          });
        }
      })();
      answerProcedure(client, name, run);
    }
  }

  override async close(server: AGServer): Promise<void> {
    await Promise.all((this.loops.get(server) ?? []).map((loop) => loop.stop()));
    this.loops.delete(server);
    // PresenceModule closes the server it shares; closing it twice would fail.
    if (this.created.delete(server)) await server.close();
  }

  private presenceHost(): AgServerHost | undefined {
    try {
      return this.app?.get(AgServerHost, { strict: false });
    } catch {
      return undefined; // PresenceModule is not imported: the adapter attaches a server of its own
    }
  }
}
