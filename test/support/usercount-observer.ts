import type { AGServer } from 'socketcluster-server';

export interface Published {
  value: unknown;
  /** Date.now() when it reached the observer. */
  at: number;
}

/**
 * Records what is published on `channel` through the server's own exchange. Unlike a client socket, this
 * observer is not tracked by presence, so it does not change the count it watches.
 */
export function observeExchange(server: AGServer, channel = 'USERCOUNT') {
  const received: Published[] = [];
  const ch = server.exchange.subscribe(channel);
  void (async () => {
    for await (const value of ch) received.push({ value, at: Date.now() });
  })();
  return {
    received,
    values: () => received.map((r) => r.value),
    last: () => received[received.length - 1]?.value,
    stop: () => {
      ch.kill();
      void server.exchange.unsubscribe(channel);
    },
  };
}

export type ExchangeObserver = ReturnType<typeof observeExchange>;
