import type { InFlight } from './procedure.router.js';
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


/**
 * Answers every `socket.invoke(procedure, data)` with what `handle` resolves to, or rejects it with what it
 * throws. One request at a time, or up to `inFlight.max` at once. The loop ends when the socket closes.
 */
export function answerProcedure(socket: AGServerSocket, procedure: string, handle: (data: unknown) => unknown, inFlight?: InFlight): void {
  let running = 0;
  const answer = async (request: { data: unknown; end(data?: unknown): void; error(error: Error): void }) => {
    try {
      request.end(await handle(request.data));
    } catch (error) {
      request.error(error as Error);
    }
  };
  void (async () => {
    for await (const request of socket.procedure(procedure)) {
      if (!inFlight) {
        await answer(request);
      } else if (running >= inFlight.max) {
        request.error(inFlight.refusal());
      } else {
        running++;
        void answer(request).finally(() => running--);
      }
    }
  })();
}
