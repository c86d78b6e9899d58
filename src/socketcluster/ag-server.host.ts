import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import scServer, { type AGServer } from 'socketcluster-server';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceConfigError, PresenceError } from '../presence.errors.js';
import { channelProblem } from './socket-identity.js';

/**
 * The AGServer presence runs on: the one given as `server`, or one attached to Nest's HTTP server at
 * `/socketcluster/` on first use. The gateway adapter asks for it too, so gateways and presence share it.
 */
@Injectable()
export class AgServerHost {
  private readonly logger = new Logger('PresenceModule');
  private server?: AGServer;
  private owned = false;

  constructor(
    private readonly config: PresenceConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  get(): AGServer {
    if (this.server) return this.server;
    const { server, socketcluster } = this.config.options;
    if (server) {
      this.server = server;
    } else {
      const httpServer = this.adapterHost.httpAdapter?.getHttpServer?.();
      if (!httpServer) {
        throw new PresenceConfigError([
          'server is required when the app has no HTTP server (NestFactory.createApplicationContext): pass an AGServer from socketcluster-server',
        ]);
      }
      this.server = scServer.attach(httpServer, socketcluster);
      this.owned = true;
    }
    this.guardSubscriptions(this.server);
    return this.server;
  }

  /** True when the module created the server, and so closes it on shutdown. */
  get ownsServer(): boolean {
    return this.owned;
  }

  async close(): Promise<void> {
    if (!this.owned || !this.server) return;
    const server = this.server;
    this.server = undefined;
    await server.close().catch((error: Error) => this.logger.warn(`closing the SocketCluster server: ${error.message}`));
  }

  /**
   * Refuses subscriptions that could not be stored (names longer than the column, the presence channel) with a
   * PresenceError, so the client learns it at once. A server that already has inbound middleware keeps it:
   * such channels are then served but not stored.
   */
  private guardSubscriptions(server: AGServer): void {
    if (server.hasMiddleware(server.MIDDLEWARE_INBOUND)) {
      this.logger.warn(
        'the AGServer already has inbound middleware: subscriptions to channels longer than 255 characters ' +
          'or to the presence channel are not refused, only left out of the table',
      );
      return;
    }
    const { presenceChannel } = this.config.options;
    const middleware: AGServer.inboundMiddlewareFunction = async (stream) => {
      for await (const action of stream) {
        if (action.type === action.SUBSCRIBE) {
          const problem = channelProblem(action.channel, presenceChannel);
          if (problem) {
            action.block(new PresenceError(`cannot subscribe: ${problem}`));
            continue;
          }
        }
        action.allow();
      }
    };
    server.setMiddleware(server.MIDDLEWARE_INBOUND, middleware);
    // The server binds middleware to a socket at its handshake; sockets already open when it is set would
    // queue their actions into a stream nobody reads, so they are bound here.
    for (const socket of Object.values(server.clients)) void middleware(socket.middlewareInboundStream);
  }
}
