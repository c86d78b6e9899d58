import { describe, expect, it } from 'vitest';
import type { AGServer } from 'socketcluster-server';
import AGAction from 'socketcluster-server/action.js';
import WritableConsumableStream from 'writable-consumable-stream';
import { PresenceConfigError } from '../../src/index.js';
import { InboundMiddlewareChain, type InboundAction } from '../../src/socketcluster/inbound-middleware.chain.js';

type Middleware = (stream: AsyncIterable<InboundAction>) => void;

/** The parts of an AGServer the chain uses, with SocketCluster's one-middleware-per-type rule. */
function fakeServer() {
  const middleware: Record<string, unknown> = {};
  return {
    MIDDLEWARE_INBOUND: 'inbound',
    MIDDLEWARE_OUTBOUND: 'outbound',
    _middleware: middleware,
    clients: {} as Record<string, unknown>,
    hasMiddleware: (type: string) => !!middleware[type],
    setMiddleware(type: string, fn: unknown) {
      if (middleware[type]) throw new Error(`Middleware ${type} type has already been set`);
      middleware[type] = fn;
    },
    removeMiddleware: (type: string) => void delete middleware[type],
  };
}

function action(type: string, channel: string): InboundAction {
  const a = new AGAction() as unknown as InboundAction & { channel: string };
  Object.assign(a, { type, channel });
  return a;
}

const settled = (a: InboundAction) =>
  (a as unknown as { promise: Promise<unknown> }).promise.then(
    () => 'allowed',
    (e: Error) => `blocked: ${e.message}`,
  );

/** One socket's stream, as the server would hand it to the installed middleware. */
function socketStream(server: ReturnType<typeof fakeServer>) {
  const stream = new WritableConsumableStream<InboundAction>();
  (server._middleware.inbound as Middleware)(stream);
  return stream;
}

describe('InboundMiddlewareChain', () => {
  const rule = (a: InboundAction) => ((a as { channel?: string }).channel === 'ours' ? new Error('module says no') : null);

  it('hands what the rule allows to the app, which decides itself; the app never sees what the rule blocked', async () => {
    const server = fakeServer();
    new InboundMiddlewareChain(rule).install(server as unknown as AGServer);
    const seen: string[] = [];
    server.setMiddleware('inbound', (async (stream: AsyncIterable<InboundAction & { channel: string }>) => {
      for await (const a of stream) {
        seen.push(a.channel);
        if (a.channel === 'theirs') a.block(new Error('app says no'));
        else a.allow();
      }
    }) as never);
    const stream = socketStream(server);
    const actions = ['ours', 'theirs', 'free'].map((ch) => action('publishIn', ch));
    for (const a of actions) stream.write(a);
    expect(await Promise.all(actions.map(settled))).toEqual(['blocked: module says no', 'blocked: app says no', 'allowed']);
    expect(seen).toEqual(['theirs', 'free']);
  });

  it('makes no app stream for a socket until an action reaches the app, and closes it with the socket', async () => {
    const server = fakeServer();
    new InboundMiddlewareChain(rule).install(server as unknown as AGServer);
    let streams = 0;
    let ended = 0;
    server.setMiddleware('inbound', (async (stream: AsyncIterable<InboundAction>) => {
      streams++;
      for await (const a of stream) a.allow();
      ended++;
    }) as never);
    const stream = socketStream(server);
    const blocked = action('subscribe', 'ours');
    stream.write(blocked);
    await settled(blocked);
    expect(streams).toBe(0);
    const allowed = action('subscribe', 'other');
    stream.write(allowed);
    expect(await settled(allowed)).toBe('allowed');
    expect(streams).toBe(1);
    stream.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ended).toBe(1);
  });

  it('adopts middleware set before it was installed', async () => {
    const server = fakeServer();
    const seen: string[] = [];
    server.setMiddleware('inbound', (async (stream: AsyncIterable<InboundAction & { channel: string }>) => {
      for await (const a of stream) {
        seen.push(a.channel);
        a.allow();
      }
    }) as never);
    new InboundMiddlewareChain(rule).install(server as unknown as AGServer);
    const stream = socketStream(server);
    const [a, b] = [action('subscribe', 'ours'), action('subscribe', 'x')];
    stream.write(a);
    stream.write(b);
    expect([await settled(a), await settled(b)]).toEqual(['blocked: module says no', 'allowed']);
    expect(seen).toEqual(['x']);
  });

  it('refuses at startup, saying what to do, when the middleware already set cannot be read', () => {
    const server = fakeServer();
    server.setMiddleware('inbound', () => undefined);
    const opaque = { ...server, _middleware: undefined };
    expect(() => new InboundMiddlewareChain(rule).install(opaque as unknown as AGServer)).toThrow(PresenceConfigError);
    expect(() => new InboundMiddlewareChain(rule).install(opaque as unknown as AGServer)).toThrow(/after PresenceModule has started/);
  });
});
