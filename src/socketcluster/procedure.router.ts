import type { AGServer, AGServerSocket } from 'socketcluster-server';
import type { InboundAction } from './inbound-middleware.chain.js';

/** Up to `max` calls of one socket answered at once; one more is refused with `refusal()` until one is answered. */
export interface InFlight {
  max: number;
  refusal: () => Error;
}

/** One procedure a client can `invoke`: its name, what answers it, and how many calls of a socket run at once. */
export interface Procedure {
  name: string;
  /** Resolves to the answer, or throws the error the client receives. */
  handle: (socket: AGServerSocket, data: unknown) => unknown;
  /** Without it, a socket's calls are answered one at a time, in order. */
  inFlight?: InFlight;
}

interface Request {
  end(data?: unknown): void;
  error(error: Error): void;
}

type RequestCreator = (socket: AGServerSocket, id: unknown, procedureName: string, data: unknown) => Request;

/** A procedure with the calls of each socket that are running or queued; a socket without any has no entry. */
interface Route extends Procedure {
  running: Map<AGServerSocket, number>;
  queued: Map<AGServerSocket, Promise<void>>;
}

/**
 * Answers the module's procedures for every socket of the server at once, instead of a consumer loop per socket
 * and procedure: those loops cost a few KB of async state per connected socket, idle or not.
 *
 * SocketCluster makes the request of an invoke (the object that can answer it) before its inbound middleware
 * sees the action, and hands it to the socket's procedure stream only after. The router wraps the server's
 * `requestCreator` to keep the request of a routed procedure until its action comes by the inbound middleware
 * chain (`seen`); a socket's packets are processed one after another, so the request kept for a socket is that
 * action's. Once the middleware (the module's rules, then the app's) allowed the action, the router answers it
 * with the data the middleware let through; a blocked action is answered by SocketCluster with the error.
 */
export class ProcedureRouter {
  private readonly routes = new Map<string, Route>();
  /** Weak: a request whose action never reaches the router (blocked before it) goes with its socket. */
  private readonly pending = new WeakMap<AGServerSocket, Request>();

  /** Adds procedures; a name already routed is answered by the new handler from then on. */
  add(procedures: Procedure[]): void {
    for (const procedure of procedures) this.routes.set(procedure.name, { ...procedure, running: new Map(), queued: new Map() });
  }

  install(server: AGServer): void {
    const options = server.options as { requestCreator?: RequestCreator };
    const appCreator = options.requestCreator;
    const creator: RequestCreator = (socket, id, name, data) => {
      const own = socket as unknown as { defaultRequestCreator: RequestCreator };
      const request = (appCreator ?? own.defaultRequestCreator)(socket, id, name, data);
      if (this.routes.has(name)) this.pending.set(socket, request);
      return request;
    };
    options.requestCreator = creator;
    // A socket reads the creator when it is made: those already there get it here.
    for (const socket of [...Object.values(server.clients), ...Object.values(server.pendingClients)]) {
      (socket as unknown as { createRequest: RequestCreator }).createRequest = creator;
    }
  }

  /** Called by the inbound middleware chain with every action its rules let through, before the app's middleware. */
  readonly seen = (action: InboundAction): void => {
    if (action.type !== action.INVOKE) return;
    const route = this.routes.get((action as { procedure?: string }).procedure as string);
    const socket = action.socket;
    const request = route && this.pending.get(socket);
    if (!route || !request) return;
    this.pending.delete(socket);
    // SocketCluster's own rule for what the middleware passes on: the data given to allow(), else the action's.
    (action as unknown as { promise: Promise<{ data?: unknown } | undefined> }).promise.then(
      (allowed) => this.dispatch(route, socket, request, allowed?.data === undefined ? action.data : allowed.data),
      () => undefined,
    );
  };

  private dispatch(route: Route, socket: AGServerSocket, request: Request, data: unknown): void {
    const { inFlight, running, queued } = route;
    if (inFlight) {
      const now = running.get(socket) ?? 0;
      if (now >= inFlight.max) {
        request.error(inFlight.refusal());
        return;
      }
      running.set(socket, now + 1);
      void this.answer(route, socket, request, data).finally(() => {
        const left = running.get(socket)! - 1;
        if (left > 0) running.set(socket, left);
        else running.delete(socket);
      });
      return;
    }
    const next = (queued.get(socket) ?? Promise.resolve()).then(() => this.answer(route, socket, request, data));
    queued.set(socket, next);
    void next.finally(() => {
      if (queued.get(socket) === next) queued.delete(socket);
    });
  }

  private async answer(route: Route, socket: AGServerSocket, request: Request, data: unknown): Promise<void> {
    try {
      request.end(await route.handle(socket, data));
    } catch (error) {
      request.error(error as Error);
    }
  }
}
