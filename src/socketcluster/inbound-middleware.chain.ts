import type { AGServer, AGServerSocket } from 'socketcluster-server';
import WritableConsumableStream from 'writable-consumable-stream';
import { PresenceConfigError, PresenceError } from '../presence.errors.js';
import { MIDDLEWARE_ALREADY_SET, MIDDLEWARE_NOT_ADOPTABLE, MIDDLEWARE_NOT_FUNCTION } from '../presence.messages.js';

type InboundMiddleware = AGServer.inboundMiddlewareFunction;
type InboundStream = Parameters<InboundMiddleware>[0];
export type InboundAction = InboundStream extends WritableConsumableStream<infer A> ? A : never;

/** The module's own rule: the error to block an action with, or null to let it through. */
export type InboundRule = (action: InboundAction) => Error | null | Promise<Error | null>;

/**
 * SocketCluster keeps one inbound middleware per server. This chain is that middleware: it reads every
 * action of a socket, applies the module's rule, and hands the actions it allows to the app's own inbound
 * middleware through a stream of that socket's own, so the app still calls `allow()` / `block()` itself.
 * The app's middleware may be set before the chain is installed (it is adopted) or after (the server's
 * `setMiddleware` / `removeMiddleware` for the inbound type are routed here).
 */
export class InboundMiddlewareChain {
  private app?: InboundMiddleware;

  constructor(private readonly rule: InboundRule) {}

  install(server: AGServer): void {
    const inbound = server.MIDDLEWARE_INBOUND;
    const adopted = server.hasMiddleware(inbound) ? this.appMiddlewareOf(server) : undefined;
    const setMiddleware = server.setMiddleware.bind(server) as (type: string, middleware: unknown) => void;
    const removeMiddleware = server.removeMiddleware.bind(server);
    if (adopted) removeMiddleware(inbound);
    setMiddleware(inbound, this.middleware);
    this.app = adopted;
    server.setMiddleware = ((type: string, middleware: InboundMiddleware) => {
      if (type === inbound) this.use(middleware);
      else setMiddleware(type, middleware);
    }) as AGServer['setMiddleware'];
    server.removeMiddleware = (type) => {
      if (type === inbound) this.app = undefined;
      else removeMiddleware(type);
    };
    // The server binds middleware to a socket at its handshake. A socket already open is bound here: its
    // actions go to a stream of the chain's, and the stream the app's middleware already reads (if any)
    // becomes that socket's app stream.
    for (const socket of Object.values(server.clients)) this.rebind(socket, adopted);
  }

  /** The function SocketCluster calls once per socket with the socket's inbound stream. */
  readonly middleware: InboundMiddleware = (stream) => {
    void this.run(stream);
  };

  private use(middleware: InboundMiddleware): void {
    if (typeof middleware !== 'function') throw new PresenceError(MIDDLEWARE_NOT_FUNCTION);
    if (this.app) {
      throw new PresenceError(MIDDLEWARE_ALREADY_SET);
    }
    this.app = middleware;
  }

  private rebind(socket: AGServerSocket, adopted: InboundMiddleware | undefined): void {
    const appStream = adopted ? (socket.middlewareInboundStream as InboundStream) : undefined;
    const ours = new WritableConsumableStream() as InboundStream & { type?: string };
    ours.type = socket.server.MIDDLEWARE_INBOUND;
    socket.middlewareInboundStream = ours;
    void this.run(ours, appStream, adopted);
  }

  private async run(stream: InboundStream, appStream?: InboundStream, boundTo?: InboundMiddleware): Promise<void> {
    // The app's stream for this socket is made on the first action that reaches it, and made anew if the app
    // replaces its middleware; a socket the app never sees costs no stream.
    let forward = appStream;
    let bound = boundTo;
    try {
      for await (const action of stream) {
        const outcome = this.rule(action);
        const refusal = outcome instanceof Promise ? await outcome.catch((error: Error) => error) : outcome;
        if (refusal) {
          action.block(refusal);
          continue;
        }
        const app = this.app;
        if (app !== bound) {
          forward?.close();
          forward = app ? this.streamFor(app, stream) : undefined;
          bound = app;
        }
        if (forward) forward.write(action);
        else action.allow();
      }
    } finally {
      forward?.close();
    }
  }

  private streamFor(app: InboundMiddleware, like: InboundStream): InboundStream {
    const stream = new WritableConsumableStream() as InboundStream & { type?: string };
    stream.type = (like as { type?: string }).type;
    app(stream);
    return stream;
  }

  /** The inbound middleware the app set before the chain was installed. */
  private appMiddlewareOf(server: AGServer): InboundMiddleware {
    const set = (server as unknown as { _middleware?: Record<string, unknown> })._middleware?.[server.MIDDLEWARE_INBOUND];
    if (typeof set !== 'function') {
      throw new PresenceConfigError([MIDDLEWARE_NOT_ADOPTABLE]);
    }
    return set as InboundMiddleware;
  }
}
