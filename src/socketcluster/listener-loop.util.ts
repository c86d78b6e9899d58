import type { AGServer, AGServerSocket } from 'socketcluster-server';

interface ListenerConsumer<T> extends AsyncIterable<T> {
  id: number;
}

/** A `for await` loop over one AGServer listener that can be ended without touching the app's own consumers. */
export interface ListenerLoop {
  /** Ends the loop; resolves when it has. */
  stop(): Promise<void>;
}

/**
 * Consumes `event` on `server` and calls `handle` for each event. A handler that throws is reported to
 * `onError` and the loop goes on.
 */
export function consumeListener<T>(
  server: AGServer,
  event: string,
  handle: (data: T) => void | Promise<void>,
  onError: (error: Error) => void,
): ListenerLoop {
  const consumer = (server.listener(event as 'connection').createConsumer() as unknown) as ListenerConsumer<T>;
  const done = (async () => {
    for await (const data of consumer) {
      try {
        await handle(data);
      } catch (error) {
        onError(error as Error);
      }
    }
  })();
  return {
    stop: async () => {
      server.killListenerConsumer(consumer.id);
      await done;
    },
  };
}

// The handlers' data is whatever SocketCluster emits with the event; the caller types it.
type EventHandler = (data: never) => void;
interface Tap {
  handlers: Readonly<Record<string, EventHandler | undefined>>;
  onError: (event: string, error: Error) => void;
}
const TAPS = Symbol('nestjs-sc-presence.eventTaps');

/**
 * Calls `handlers[event](data)` for every `server.emit(event, data)` of those events, in a microtask right after
 * the emit (the state the event describes is then complete, as for a listener's consumer), in the order of the
 * emits. No stream consumer per event: on a connect storm a `for await` loop per listener cost a promise and an
 * iterator result per event, a few KB of garbage per socket. The app's own listeners are untouched, and its
 * `killAllListeners()` cannot end these. A handler that throws is reported to `onError`.
 */
export function tapServerEvents(
  server: AGServer,
  handlers: Readonly<Record<string, EventHandler | undefined>>,
  onError: (event: string, error: Error) => void,
): ListenerLoop {
  const host = server as AGServer & { [TAPS]?: Set<Tap> };
  let taps = host[TAPS];
  if (!taps) {
    const all = new Set<Tap>();
    taps = host[TAPS] = all;
    const emit = server.emit as (this: AGServer, event: string, data: unknown) => void;
    (server as unknown as { emit: (event: string, data: unknown) => void }).emit = function (this: AGServer, event, data) {
      emit.call(this, event, data);
      for (const tap of all) {
        const handle = tap.handlers[event];
        if (handle) queueMicrotask(() => runTap(tap, event, handle, data as never));
      }
    };
  }
  const tap: Tap = { handlers, onError };
  taps.add(tap);
  return {
    stop: async () => {
      taps.delete(tap);
    },
  };
}

function runTap(tap: Tap, event: string, handle: EventHandler, data: never): void {
  try {
    handle(data);
  } catch (error) {
    tap.onError(event, error as Error);
  }
}

/**
 * Answers every `socket.invoke(procedure, data)` with what `handle` resolves to, or rejects it with what it
 * throws, one request at a time. The loop ends when the socket closes. (The module's own procedures go through
 * the server-wide router instead; this serves the gateway adapter's handlers.)
 */
export function answerProcedure(socket: AGServerSocket, procedure: string, handle: (data: unknown) => unknown): void {
  void (async () => {
    for await (const request of socket.procedure(procedure)) {
      try {
        request.end(await handle(request.data));
      } catch (error) {
        request.error(error as Error);
      }
    }
  })();
}
