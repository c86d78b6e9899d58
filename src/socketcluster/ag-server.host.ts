import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import scServer, { type AGServer, type AGServerSocket } from 'socketcluster-server';
import { checkPresenceSubscription, isPresenceChannel } from './channel-access.check.js';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceConfigError, PresenceError } from '../presence.errors.js';
import { InboundMiddlewareChain, type InboundAction } from './inbound-middleware.chain.js';
import { channelProblem } from './socket-identity.util.js';
import { ProcedureRouter } from './procedure.router.js';
import { useSecretKeyObject } from './auth-key.util.js';
import { CANNOT_SUBSCRIBE, SERVER_ONLY_CHANNEL, SERVER_REQUIRED, TOO_MANY_SUBSCRIPTIONS } from '../presence.messages.js';

/**
 * The AGServer presence runs on: the one given as `server`, or one attached to Nest's HTTP server at
 * `/socketcluster/` on first use. The gateway adapter asks for it too, so gateways and presence share it.
 */
@Injectable()
export class AgServerHost {
  private readonly logger = new Logger('PresenceModule');
  private server?: AGServer;
  private owned = false;
  private closed = false;
  /** The module's procedures (`presence.setStatus`, …), answered for every socket from the inbound middleware. */
  readonly procedures = new ProcedureRouter();

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
      useSecretKeyObject(this.server);
    }
    this.guardSubscriptions(this.server);
    return this.server;
  }

  /**
   * Refuses what could not be stored, and presence channels (of a channel or a user) the socket may not see.
   * Synchronous but for the access check of a presence channel (`canSubscribe` and `canWatch` may be async).
   */
  private subscribeRefusal(socket: AGServerSocket, channel: unknown): PresenceError | null | Promise<PresenceError | null> {
    const options = this.config.options;
    const problem = channelProblem(channel, options.presenceChannel);
    if (problem) return new PresenceError(CANNOT_SUBSCRIBE(problem));
    // SocketCluster handles a socket's packets one after another, so this count includes every earlier subscribe.
    const max = options.limits.subscriptionsPerSocket;
    if (!socket.isSubscribed(channel as string) && socket.channelSubscriptionsCount >= max) {
      return new PresenceError(TOO_MANY_SUBSCRIPTIONS(max));
    }
    const access = checkPresenceSubscription(options, socket, channel as string);
    if (!access) return null;
    return access.then(
      () => null,
      (error: Error) => (error instanceof PresenceError ? error : new PresenceError(CANNOT_SUBSCRIBE(error.message))),
    );
  }

  /**
   * The user count, presence diffs and watched users' transitions come from the server only: a client publishing
   * there would forge them. Nothing is published on the presence rows' channel name, but it is the module's too.
   */
  private publishRefusal(channel: unknown): PresenceError | null {
    const options = this.config.options;
    if (typeof channel !== 'string') return null;
    if (
      (options.usercount && channel === options.usercount.channel) ||
      channel === options.presenceChannel ||
      isPresenceChannel(options, channel)
    ) {
      return new PresenceError(SERVER_ONLY_CHANNEL(channel));
    }
    return null;
  }

  /**
   * Closes the server we attached. It stays the one `get()` returns: the shutdown's last publishes (channel
   * diffs, watched users) still go out through its broker, which SCC leaves only after them; a fresh server
   * attached then would reach no other instance and never be closed.
   */
  async close(): Promise<void> {
    if (!this.owned || !this.server || this.closed) return;
    this.closed = true;
    const server = this.server;
    await server.close().catch((error: Error) => this.logger.warn(`closing the SocketCluster server: ${error.message}`));
  }

  /**
   * Refuses, with a PresenceError the client receives at once: subscriptions that could not be stored (names
   * longer than the column or not well-formed Unicode, the presence channel), subscriptions past
   * `limits.subscriptionsPerSocket`, subscriptions to a channel's
   * presence by sockets that may not see it, and client publishes on the server's own channels. What these
   * rules allow goes on to the app's own inbound middleware, set before or after (see InboundMiddlewareChain).
   */
  private guardSubscriptions(server: AGServer): void {
    new InboundMiddlewareChain((action) => this.refusal(action), this.procedures.seen).install(server);
    this.procedures.install(server);
  }

  private refusal(action: InboundAction): PresenceError | null | Promise<PresenceError | null> {
    if (action.type === action.PUBLISH_IN) return this.publishRefusal(action.channel);
    if (action.type === action.SUBSCRIBE) return this.subscribeRefusal(action.socket, action.channel);
    return null;
  }
}
