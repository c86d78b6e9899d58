import type { AGServer } from 'socketcluster-server';
import type { AGClientSocket } from 'socketcluster-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, dropTables, eventually, fastOptions, sleep, startPresenceApp, type PresenceApp } from '../support/presence-app.js';
import { collect, connectClient, disconnectAll, subscribe } from '../support/clients.js';
import { listenAgServer } from '../support/own-server.js';

type Middleware = AGServer.inboundMiddlewareFunction;

/**
 * An app's own inbound rule, as real apps have: no client publishes on `secret:*`, and only admins subscribe to
 * `admin:*`. It records every action it is handed.
 */
function appRule() {
  const seen: string[] = [];
  const middleware = (async (stream: AsyncIterable<{ type: string; channel?: string; socket: { authToken?: Record<string, unknown> | null }; allow(): void; block(e: Error): void; PUBLISH_IN: string; SUBSCRIBE: string }>) => {
    for await (const action of stream) {
      seen.push(`${action.type}:${action.channel ?? ''}`);
      if (action.type === action.SUBSCRIBE && action.channel?.startsWith('admin:') && action.socket.authToken?.role !== 'admin') {
        action.block(new Error('app: admins only'));
      } else if (action.type === action.PUBLISH_IN && action.channel?.startsWith('secret:')) action.block(new Error('app: secret channel'));
      else action.allow();
    }
  }) as unknown as Middleware;
  return { middleware, seen };
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'allowed',
    (error: Error) => `${error.name}: ${error.message}`,
  );

describe.each(BACKENDS)("the app's own inbound middleware next to the presence guards (%s)", (backend) => {
  const sockets: AGClientSocket[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let ctx: PresenceApp | undefined;

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    if (ctx && backend === 'mariadb') await dropTables(ctx.table);
    ctx = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  const ownServer = () => listenAgServer(cleanups);

  const channelPresence = { channels: /^room:/ };

  async function client(port: number, server: AGServer, token?: Record<string, unknown>) {
    const socket = await connectClient(port, server, token ? { token } : {});
    sockets.push(socket);
    return socket;
  }

  /** Both sets of rules, checked from real clients: the app's and the module's. */
  async function expectBothRules(port: number, server: AGServer, seen: string[]) {
    const member = await client(port, server, { user_id: 'member' });
    const outsider = await client(port, server, { user_id: 'outsider' });
    await subscribe(member, 'room:1');
    const listeners = await Promise.all(['l1', 'l2', 'l3'].map((id) => client(port, server, { user_id: id })));
    const counts = listeners.map((socket) => collect<number>(socket, 'USERCOUNT'));
    await Promise.all(counts.map((c) => c.ready()));

    // The module's rules.
    expect(await outcome(subscribe(outsider, 'presence:room:1'))).toMatch(/^PresenceError: .*room:1/);
    expect(await outcome(outsider.invokePublish('USERCOUNT', 999999))).toMatch(/^PresenceError: .*published by the server only/);
    expect(await outcome(outsider.invokePublish('_SCPRESENCE', 'x'))).toMatch(/^PresenceError: '_SCPRESENCE' is published by the server only/);
    expect(await outcome(member.invokePublish('presence:room:1', { joins: [{ userId: 'mallory' }] }))).toMatch(/^PresenceError/);
    expect(await outcome(subscribe(member, 'presence:room:1'))).toBe('allowed');
    // The app's rules.
    expect(await outcome(member.invokePublish('secret:plans', 'x'))).toBe('Error: app: secret channel');
    expect(await outcome(member.invokePublish('public:news', 'x'))).toBe('allowed');
    expect(await outcome(subscribe(member, 'admin:panel'))).toBe('Error: app: admins only');
    const admin = await client(port, server, { user_id: 'root', role: 'admin' });
    expect(await outcome(subscribe(admin, 'admin:panel'))).toBe('allowed');

    // Nobody received the forged count; the app was never handed what the module refused.
    await sleep(100);
    for (const c of counts) expect(c.received).not.toContain(999999);
    expect(seen).toContain('publishIn:public:news');
    expect(seen).toContain('subscribe:presence:room:1');
    expect(seen).not.toContain('publishIn:USERCOUNT');
    expect(seen).not.toContain('publishIn:_SCPRESENCE');
    expect(seen.filter((s) => s.startsWith('publishIn:presence:'))).toEqual([]);
    expect(member.state).toBe(member.OPEN);
    // What was allowed is tracked as usual.
    await eventually(async () => expect(await ctx!.presence.count('sockets', 'room:1')).toBe(1));
  }

  it('keeps both rules when the app set its middleware before the module started', async () => {
    const { server, port } = await ownServer();
    const app = appRule();
    server.setMiddleware(server.MIDDLEWARE_INBOUND, app.middleware);
    ctx = await startPresenceApp(fastOptions(backend, { server, channelPresence }));
    await expectBothRules(port, server, app.seen);
  });

  it('keeps both rules when the app sets its middleware after the module attached the server', async () => {
    ctx = await startPresenceApp(fastOptions(backend, { channelPresence }));
    const app = appRule();
    // What SocketCluster alone refuses with "Middleware inbound type has already been set".
    ctx.server.setMiddleware(ctx.server.MIDDLEWARE_INBOUND, app.middleware);
    await expectBothRules(ctx.port, ctx.server, app.seen);
  });

  it('applies both rules to sockets that were open before the module started', async () => {
    const { server, port } = await ownServer();
    const app = appRule();
    server.setMiddleware(server.MIDDLEWARE_INBOUND, app.middleware);
    const early = await client(port, server, { user_id: 'early' });
    await subscribe(early, 'room:early');
    expect(await outcome(early.invokePublish('USERCOUNT', 5))).toBe('allowed'); // nothing guards it yet

    ctx = await startPresenceApp(fastOptions(backend, { server, channelPresence }));
    app.seen.length = 0;
    expect(await outcome(early.invokePublish('USERCOUNT', 999999))).toMatch(/^PresenceError/);
    expect(await outcome(early.invokePublish('secret:x', 1))).toBe('Error: app: secret channel');
    expect(await outcome(subscribe(early, 'presence:room:other'))).toMatch(/^PresenceError/);
    expect(await outcome(subscribe(early, 'presence:room:early'))).toBe('allowed');
    await expectBothRules(port, server, app.seen);
  });

  it("keeps tracking when the app ends every listener of the server (killAllListeners), and the app's own listeners still hear the events", async () => {
    ctx = await startPresenceApp(fastOptions(backend));
    const server = ctx.server;
    server.killAllListeners();
    const heard: string[] = [];
    void (async () => {
      for await (const { socket } of server.listener('connection')) heard.push(socket.id);
    })();
    const socket = await client(ctx.port, server, { user_id: 'after-kill' });
    await subscribe(socket, 'room:k');
    await eventually(async () => expect(await ctx!.presence.count('sockets', 'room:k')).toBe(1));
    expect(heard).toEqual([socket.id]);
    expect(await ctx.presence.getUserStatus('after-kill')).toBe('online');
    await disconnectAll(socket);
    await eventually(async () => expect(await ctx!.presence.getUserStatus('after-kill')).toBe('offline'));
  });

  it('lets the app replace its middleware through removeMiddleware, and refuses a second one with a message that says so', async () => {
    ctx = await startPresenceApp(fastOptions(backend, { channelPresence }));
    const server = ctx.server;
    const first = appRule();
    server.setMiddleware(server.MIDDLEWARE_INBOUND, first.middleware);
    expect(() => server.setMiddleware(server.MIDDLEWARE_INBOUND, appRule().middleware)).toThrow(/removeMiddleware/);

    const socket = await client(ctx.port, server, { user_id: 'u' });
    expect(await outcome(socket.invokePublish('secret:x', 1))).toBe('Error: app: secret channel');
    server.removeMiddleware(server.MIDDLEWARE_INBOUND);
    // Without the app's rule, the module's rules still hold, on the same open socket.
    expect(await outcome(socket.invokePublish('secret:x', 1))).toBe('allowed');
    expect(await outcome(socket.invokePublish('USERCOUNT', 999999))).toMatch(/^PresenceError/);

    const second = appRule();
    server.setMiddleware(server.MIDDLEWARE_INBOUND, second.middleware);
    expect(await outcome(socket.invokePublish('secret:y', 1))).toBe('Error: app: secret channel');
    expect(second.seen).toEqual(['publishIn:secret:y']);
    // Other middleware types are the server's own business.
    server.setMiddleware(server.MIDDLEWARE_OUTBOUND, (async () => undefined) as never);
    expect(server.hasMiddleware(server.MIDDLEWARE_OUTBOUND)).toBe(true);
    server.removeMiddleware(server.MIDDLEWARE_OUTBOUND);
  });
});
