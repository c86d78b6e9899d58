import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { createPresenceClient, type PresenceClient } from '../../src/client/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { signToken, subscribe } from '../support/clients.js';

describe.each(BACKENDS)('client setState() with real sockets (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;
  let errors: Error[];

  async function start() {
    errors = [];
    ctx = await bed.start({ channelPresence: { channels: /^room:/ }, sessionState: { maxBytes: 200 } });
  }

  function helper(socket: AGClientSocket): PresenceClient {
    const presence = createPresenceClient(socket, { idleMonitor: false, onError: (error) => errors.push(error) });
    bed.onCleanup(() => presence.destroy());
    return presence;
  }

  const stateOf = async (userId: string, socketId: string) =>
    (await ctx.presence.getUserSessions(userId)).find((s) => s.socketId === socketId)?.state;

  it('stores the state, sends it again after the server drops the socket, and clears it with null', async () => {
    await start();
    const socket = await bed.connect({ token: { user_id: 'ann' }, reconnect: true });
    const presence = helper(socket);
    await presence.setState({ device: 'laptop', typing: false });
    expect(await stateOf('ann', socket.id!)).toEqual({ device: 'laptop', typing: false });

    const before = socket.id!;
    const reconnected = socket.listener('connect').once(5000);
    // 1001 (going away): the client reconnects; a plain disconnect() sends 1000, which the client takes as final.
    ctx.server.clients[before]!.disconnect(1001, 'going away');
    await reconnected;
    expect(socket.id).not.toBe(before);
    await eventually(async () => expect(await stateOf('ann', socket.id!)).toEqual({ device: 'laptop', typing: false }));

    await presence.setState(null);
    expect(await stateOf('ann', socket.id!)).toBeNull();
    expect(errors).toEqual([]);
  });

  it("rejects a state the server refuses with its PresenceError, and keeps the one it accepted", async () => {
    await start();
    const socket = await bed.connect({ token: { user_id: 'ann' } });
    const presence = helper(socket);
    await presence.setState({ device: 'phone' });
    const refused = await presence.setState({ note: 'x'.repeat(500) }).catch((e: Error) => e);
    expect((refused as Error).name).toBe('PresenceError');
    expect(presence.state).toEqual({ device: 'phone' });
    expect(await stateOf('ann', socket.id!)).toEqual({ device: 'phone' });
  });

  it('sends a state set while anonymous once the socket signs in', async () => {
    await start();
    const socket = await bed.connect();
    const presence = helper(socket);
    const refused = await presence.setState({ device: 'tablet' }).catch((e: Error) => e);
    expect((refused as Error).name).toBe('PresenceError');
    await socket.authenticate(await signToken(ctx.server, { user_id: 'bea' }));
    await eventually(async () => expect(await stateOf('bea', socket.id!)).toEqual({ device: 'tablet' }));
  });

  it('sends the state and status again after a logout and login, and after a login as someone else, but not on a renewed token', async () => {
    await start();
    const socket = await bed.connect({ token: { user_id: 'ann' } });
    const presence = helper(socket);
    const sent: unknown[] = [];
    const invoke = socket.invoke.bind(socket);
    socket.invoke = ((name: string, data: unknown) => {
      if (name === 'presence.setState') sent.push(data);
      return invoke(name, data);
    }) as typeof socket.invoke;
    await presence.setState({ device: 'cli' });
    await presence.setIdle();
    const session = async (userId: string) => {
      const found = (await ctx.presence.getUserSessions(userId)).find((s) => s.socketId === socket.id);
      return found && { status: found.status, state: found.state };
    };

    await socket.deauthenticate();
    await eventually(async () => expect(await session('ann')).toBeUndefined());
    await socket.authenticate(await signToken(ctx.server, { user_id: 'ann' }));
    await eventually(async () => expect(await session('ann')).toEqual({ status: 'idle', state: { device: 'cli' } }));

    // The server starts the socket over for bob (online, no state); the helper sends what its app wants.
    await socket.authenticate(await signToken(ctx.server, { user_id: 'bob' }));
    await eventually(async () => expect(await session('bob')).toEqual({ status: 'idle', state: { device: 'cli' } }));
    expect(sent).toHaveLength(3);

    // The same user's token, signed again later (another iat): the server keeps the state, nothing is sent.
    await sleep(1100);
    await socket.authenticate(await signToken(ctx.server, { user_id: 'bob' }));
    await sleep(200);
    expect(sent).toHaveLength(3);
    expect(await session('bob')).toEqual({ status: 'idle', state: { device: 'cli' } });
    expect(errors).toEqual([]);
  });

  it("shows each member's session states in channel()", async () => {
    await start();
    const ann = await bed.connect({ token: { user_id: 'ann' } });
    await subscribe(ann, 'room:s');
    const room = helper(ann).channel('room:s');
    const bob1 = await bed.connect({ token: { user_id: 'bob' } });
    const bob2 = await bed.connect({ token: { user_id: 'bob' } });
    await subscribe(bob1, 'room:s');
    await subscribe(bob2, 'room:s');
    const bobIn = () => room.latest?.members.find((m) => m.userId === 'bob');
    await eventually(() => expect(bobIn()).toMatchObject({ status: 'online', states: [] }));

    await helper(bob1).setState({ typing: true });
    await eventually(() => expect(bobIn()?.states).toEqual([{ typing: true }]));
    await helper(bob2).setState({ device: 'phone' });
    await eventually(() => expect(bobIn()?.states).toHaveLength(2));
    expect(bobIn()!.states).toEqual(expect.arrayContaining([{ typing: true }, { device: 'phone' }]));
    bob1.disconnect();
    await eventually(() => expect(bobIn()?.states).toEqual([{ device: 'phone' }]));
    // The view equals a fresh snapshot.
    const snapshot = (await ann.invoke('presence.members', 'room:s')) as { members: unknown[] };
    expect(room.latest!.members).toEqual(snapshot.members);
  });
});
