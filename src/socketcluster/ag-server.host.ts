import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import scServer, { type AGServer, type AGServerSocket } from 'socketcluster-server';
import { checkChannelAccess } from './channel-access.check.js';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceConfigError, PresenceError } from '../presence.errors.js';
import { channelProblem } from './socket-identity.util.js';
import { CANNOT_SUBSCRIBE, INBOUND_MIDDLEWARE_PRESENT, SERVER_ONLY_CHANNEL, SERVER_REQUIRED } from '../presence.messages.js';

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
        throw new PresenceConfigError([SERVER_REQUIRED]);
      }
      this.server = scServer.attach(httpServer, socketcluster);
      this.owned = true;
    }
    this.guardSubscriptions(this.server);
    return this.server;
  }

  /** Refuses what could not be stored, and presence channels the socket may not see. */
  private async subscribeRefusal(socket: AGServerSocket, channel: unknown): Promise<PresenceError | null> {
    const options = this.config.options;
    const problem = channelProblem(channel, options.presenceChannel);
    if (problem) return new PresenceError(CANNOT_SUBSCRIBE(problem));
    const presence = options.channelPresence;
    if (presence && (channel as string).startsWith(presence.prefix)) {
      await checkChannelAccess(options, socket, (channel as string).slice(presence.prefix.length));
    }
    return null;
  }

  /** The user count and presence diffs come from the server only: a client publishing there would forge them. */
  private publishRefusal(channel: unknown): PresenceError | null {
    const { usercount, channelPresence } = this.config.options;
    if (typeof channel !== 'string') return null;
    if ((usercount && channel === usercount.channel) || (channelPresence && channel.startsWith(channelPresence.prefix))) {
      return new PresenceError(SERVER_ONLY_CHANNEL(channel));
    }
    return null;
  }

  async close(): Promise<void> {
    if (!this.owned || !this.server) return;
    const server = this.server;
    this.server = undefined;
    await server.close().catch((error: Error) => this.logger.warn(`closing the SocketCluster server: ${error.message}`));
  }

  /**
   * Refuses, with a PresenceError the client receives at once: subscriptions that could not be stored (names
   * longer than the column, the presence channel), subscriptions to a channel's presence by sockets that may not
   * see it, and client publishes on the server's own channels. A server that already has inbound middleware
   * keeps it: such channels are then served but not stored.
   */
  private guardSubscriptions(server: AGServer): void {
    if (server.hasMiddleware(server.MIDDLEWARE_INBOUND)) {
      this.logger.warn(INBOUND_MIDDLEWARE_PRESENT);
      return;
    }
    const middleware: AGServer.inboundMiddlewareFunction = async (stream) => {
      for await (const action of stream) {
        let refusal: PresenceError | null = null;
        try {
          if (action.type === action.SUBSCRIBE) refusal = await this.subscribeRefusal(action.socket, action.channel);
          else if (action.type === action.PUBLISH_IN) refusal = this.publishRefusal(action.channel);
        } catch (error) {
          refusal = error instanceof PresenceError ? error : new PresenceError(CANNOT_SUBSCRIBE((error as Error).message));
        }
        if (refusal) action.block(refusal);
        else action.allow();
      }
    };
    server.setMiddleware(server.MIDDLEWARE_INBOUND, middleware);
    // The server binds middleware to a socket at its handshake; sockets already open when it is set would
    // queue their actions into a stream nobody reads, so they are bound here.
    for (const socket of Object.values(server.clients)) void middleware(socket.middlewareInboundStream);
  }
}
