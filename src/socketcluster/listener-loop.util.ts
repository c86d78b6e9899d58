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
