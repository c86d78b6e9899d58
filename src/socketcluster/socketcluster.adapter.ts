import { Logger, type INestApplicationContext, type WsMessageHandler } from '@nestjs/common';
import { AbstractWsAdapter } from '@nestjs/websockets';
import { lastValueFrom, type Observable } from 'rxjs';
import scServer, { type AGServer, type AGServerSocket } from 'socketcluster-server';
import { AgServerHost } from './ag-server.host.js';
import { answerProcedure, consumeListener, type ListenerLoop } from './listener-loop.util.js';

/**
 * Runs `@WebSocketGateway()` gateways over SocketCluster. A `@SubscribeMessage('name')` handler answers both
 * `socket.transmit('name', data)` and `socket.invoke('name', data)`: the invoke resolves with the handler's
 * return value. An exception goes to Nest's WebSocket exception filters as in any gateway (the default one
 * emits `'exception'` on the server socket) and the invoke then resolves with `undefined`; return an error
 * object, or use a filter of your own, to tell the client.
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
    for (const { message, callback } of handlers) {
      const name = String(message);
      const run = (data: unknown) => lastValueFrom(transform(callback(data, name)), { defaultValue: undefined });
      void (async () => {
        for await (const data of client.receiver(name)) {
          await run(data).catch((error: Error) => this.logger.error(`'${name}' handler failed: ${error.message}`));
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
