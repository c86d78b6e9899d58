import { afterEach, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { createPresenceClient, type PresenceClient, type PresenceClientOptions } from '../../src/client/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { signToken, type ClientOptions } from '../support/clients.js';

describe.each(BACKENDS)('client helper (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function start() {
    ctx = await bed.start();
    return ctx;
  }

  const connect = (options: ClientOptions = {}) => bed.connect(options);

  function helper(socket: AGClientSocket, options: PresenceClientOptions = {}) {
    const presence = createPresenceClient(socket, { onError: (error) => errors.push(error), ...options });
    bed.onCleanup(() => presence.destroy());
    return presence;
  }
  let errors: Error[] = [];
  afterEach(() => {
    errors = [];
  });

  /** A socket that reconnects on its own after 50-100 ms and presents its token at every handshake. */
  const reconnectingClient = (token: Record<string, unknown>) => bed.connect({ token, reconnect: true });

  const statusOfSocket = async (userId: string, socketId: string) =>
    (await ctx!.presence.getUserSessions(userId)).find((s) => s.socketId === socketId)?.status;

  it('setIdle and setOnline store the status; the idle monitor is off in Node', async () => {
    await start();
    const socket = await connect({ token: { user_id: 'ann' } });
    const presence = helper(socket);
    expect(presence.monitoring).toBe(false);
    expect(presence.status).toBe('online');

    await presence.setIdle();
    expect(presence.status).toBe('idle');
    expect(await ctx!.presence.getUserStatus('ann')).toBe('idle');
    await presence.setOnline();
    expect(await ctx!.presence.getUserStatus('ann')).toBe('online');
    expect(errors).toEqual([]);
  });

  it("surfaces the server's PresenceError for an anonymous socket, and sends the wish once it logs in", async () => {
    await start();
    const socket = await connect();
    const presence = helper(socket);
    const error = await presence.setIdle().catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('PresenceError');
    expect(presence.status).toBe('idle');

    await socket.authenticate(await signToken(ctx!.server, { user_id: 'bea' }));
    await eventually(async () => expect(await ctx!.presence.getUserStatus('bea')).toBe('idle'));
    expect(await statusOfSocket('bea', socket.id!)).toBe('idle');
    expect(errors).toEqual([]);
  });

  it('re-sends idle after the server drops the socket and the client reconnects', async () => {
    await start();
    const socket = await reconnectingClient({ user_id: 'cy' });
    const presence = helper(socket);
    await presence.setIdle();
    expect(await ctx!.presence.getUserStatus('cy')).toBe('idle');

    const firstId = socket.id!;
    const reconnected = socket.listener('connect').once(5000);
    // 1001 (going away, e.g. an instance shutting down): the client reconnects. A plain disconnect() sends 1000,
    // which socketcluster-client takes as final.
    await ctx!.server.clients[firstId].disconnect(1001, 'going away');
    await reconnected;
    expect(socket.id).not.toBe(firstId);
    await eventually(async () => expect(await statusOfSocket('cy', socket.id!)).toBe('idle'));
    expect(await ctx!.presence.getUserStatus('cy')).toBe('idle');
    await eventually(async () => expect(await ctx!.presence.getUserSessions('cy')).toHaveLength(1));

    // Wanting online again: the new connection already starts online, so nothing needs re-sending after a drop.
    await presence.setOnline();
    const secondId = socket.id!;
    const again = socket.listener('connect').once(5000);
    await ctx!.server.clients[secondId].disconnect(1001, 'going away');
    await again;
    await eventually(async () => expect(await statusOfSocket('cy', socket.id!)).toBe('online'));
    expect(await ctx!.presence.getUserStatus('cy')).toBe('online');
    expect(errors).toEqual([]);
  });

  it('after destroy it no longer re-sends, and the socket stays connected', async () => {
    await start();
    const socket = await reconnectingClient({ user_id: 'dee' });
    const presence = helper(socket);
    await presence.setIdle();
    presence.destroy();
    expect(socket.state).toBe('open');

    const reconnected = socket.listener('connect').once(5000);
    await ctx!.server.clients[socket.id!].disconnect(1001, 'going away');
    await reconnected;
    await eventually(async () => expect(await statusOfSocket('dee', socket.id!)).toBe('online'));
    await sleep(100);
    expect(await ctx!.presence.getUserStatus('dee')).toBe('online');
  });

  it('usercount() yields the published numbers', async () => {
    await start();
    const watcher = await connect({ token: { user_id: 'watcher' } });
    const presence = helper(watcher);
    const seen: number[] = [];
    let ended = false;
    const loop = (async () => {
      for await (const n of presence.usercount()) {
        seen.push(n);
        if (n === 99) break;
      }
      ended = true;
    })();
    await eventually(() => expect(watcher.isSubscribed('USERCOUNT')).toBe(true));
    const last = () => seen[seen.length - 1];

    const eve = await connect({ token: { user_id: 'eve' } });
    await eventually(() => expect(last()).toBe(2));
    await connect({ token: { user_id: 'fred' } });
    await eventually(() => expect(last()).toBe(3));
    eve.disconnect();
    await eventually(() => expect(last()).toBe(2));

    // What is not a number is skipped; a publish of 99 ends this loop (break).
    await ctx!.server.exchange.transmitPublish('USERCOUNT', 'not a count');
    await ctx!.server.exchange.transmitPublish('USERCOUNT', 99);
    await loop;
    expect(ended).toBe(true);
    expect(seen.every((n) => typeof n === 'number')).toBe(true);
    expect(seen.slice(-2)).toEqual([2, 99]);
    expect(await ctx!.presence.count('users')).toBe(2);
  });
});
