import type { AGServer, AGServerSocket } from 'socketcluster-server';
import WritableConsumableStream from 'writable-consumable-stream';
import { PresenceConfigError, PresenceError } from '../presence.errors.js';
import { MIDDLEWARE_ALREADY_SET, MIDDLEWARE_NOT_ADOPTABLE, MIDDLEWARE_NOT_FUNCTION } from '../presence.messages.js';

type InboundMiddleware = AGServer.inboundMiddlewareFunction;
type InboundStream = Parameters<InboundMiddleware>[0];
export type InboundAction = InboundStream extends WritableConsumableStream<infer A> ? A : never;

/** The module's own rule: the error to block an action with, or null to let it through. */
export type InboundRule = (action: InboundAction) => Error | null | Promise<Error | null>;

/** What the chain keeps for one socket's stream while there is something to keep. */
interface Forward {
  /** The app's stream for this socket, and the middleware it was made for. */
  stream: InboundStream;
  app: InboundMiddleware;
}

type SocketStream = InboundStream & { type?: string; write(action: InboundAction): void; close(value?: unknown): void; kill(value?: unknown): void };

/**
 * SocketCluster keeps one inbound middleware per server. This chain is that middleware: it decides every
 * action of a socket with the module's rule, and hands the actions it allows to the app's own inbound
 * middleware through a stream of that socket's own, so the app still calls `allow()` / `block()` itself.
 * The app's middleware may be set before the chain is installed (it is adopted) or after (the server's
 * `setMiddleware` / `removeMiddleware` for the inbound type are routed here).
 *
 * No loop per socket: SocketCluster writes each action to the socket's stream, and the chain takes the write
 * itself. The stream gets a prototype of the chain's, shared by every socket, whose `write` decides the action
 * and whose `close` and `kill` also end the socket's app stream: no property and no closure per socket. A
 * socket's actions are decided in order: one that arrives while an asynchronous rule is pending waits for it.
 */
export class InboundMiddlewareChain {
  private app?: InboundMiddleware;
  private readonly forwards = new WeakMap<InboundStream, Forward>();
  /** The last decision still pending per stream (an asynchronous rule), for the order of the next ones. */
  private readonly busy = new WeakMap<InboundStream, Promise<void>>();
  /** The prototype given to a socket's stream, per prototype the stream had (one in practice). */
  private readonly prototypes = new WeakMap<object, object>();

  /** `allowed` hears of every action the rule let through, before the app's middleware decides it. */
  constructor(
    private readonly rule: InboundRule,
    private readonly allowed?: (action: InboundAction) => void,
  ) {}

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
    this.bind(stream as SocketStream);
  };

  private use(middleware: InboundMiddleware): void {
    if (typeof middleware !== 'function') throw new PresenceError(MIDDLEWARE_NOT_FUNCTION);
    if (this.app) {
      throw new PresenceError(MIDDLEWARE_ALREADY_SET);
    }
    this.app = middleware;
  }

  private bind(stream: SocketStream): void {
    const own = Object.getPrototypeOf(stream) as SocketStream;
    let prototype = this.prototypes.get(own);
    if (!prototype) {
      const chain = this;
      prototype = Object.create(own, {
        write: { value: function (this: SocketStream, action: InboundAction) { chain.take(this, action); } },
        close: { value: function (this: SocketStream, value?: unknown) { own.close.call(this, value); chain.ended(this); } },
        kill: { value: function (this: SocketStream, value?: unknown) { own.kill.call(this, value); chain.ended(this); } },
      }) as object;
      this.prototypes.set(own, prototype);
    }
    Object.setPrototypeOf(stream, prototype);
  }

  private rebind(socket: AGServerSocket, adopted: InboundMiddleware | undefined): void {
    const appStream = adopted ? (socket.middlewareInboundStream as InboundStream) : undefined;
    const ours = new WritableConsumableStream() as SocketStream;
    ours.type = socket.server.MIDDLEWARE_INBOUND;
    socket.middlewareInboundStream = ours;
    if (appStream && adopted) this.forwards.set(ours, { stream: appStream, app: adopted });
    this.bind(ours);
  }

  private take(stream: InboundStream, action: InboundAction): void {
    const before = this.busy.get(stream);
    const decided = before ? before.then(() => this.decide(stream, action)) : this.decide(stream, action);
    if (!decided) return;
    this.busy.set(stream, decided);
    void decided.finally(() => {
      if (this.busy.get(stream) === decided) this.busy.delete(stream);
    });
  }

  private decide(stream: InboundStream, action: InboundAction): Promise<void> | undefined {
    const outcome = this.rule(action);
    if (!(outcome instanceof Promise)) {
      this.pass(stream, action, outcome);
      return undefined;
    }
    return outcome.catch((error: Error) => error).then((refusal) => this.pass(stream, action, refusal));
  }

  private pass(stream: InboundStream, action: InboundAction, refusal: Error | null): void {
    if (refusal) {
      action.block(refusal);
      return;
    }
    this.allowed?.(action);
    // The app's stream for this socket is made on the first action that reaches it, and made anew if the app
    // replaces its middleware; a socket the app never sees costs no stream.
    const app = this.app;
    let forward = this.forwards.get(stream);
    if (forward?.app !== app) {
      forward?.stream.close();
      forward = app ? { stream: this.streamFor(app, stream), app } : undefined;
      if (forward) this.forwards.set(stream, forward);
      else this.forwards.delete(stream);
    }
    if (forward) forward.stream.write(action);
    else action.allow();
  }

  /** The socket's stream closed or was killed (the socket is gone): so is its app stream. */
  private ended(stream: InboundStream): void {
    this.forwards.get(stream)?.stream.close();
    this.forwards.delete(stream);
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
