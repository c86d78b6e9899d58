import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import type { AGServerSocket } from 'socketcluster-server';
import type { PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { connectClient, subscribe } from '../support/clients.js';

interface Diff {
  joins: Array<{ userId: string }>;
  leaves: Array<{ userId: string }>;
}

describe.each(BACKENDS)('access to channel presence that ends (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function start(channelPresence: PresenceModuleOptions['channelPresence'] = { channels: /^room:/ }) {
    ctx = await bed.start({ channelPresence, usercount: false });
  }

  async function client(userId?: string) {
    const socket = await connectClient(ctx!.port, ctx!.server, userId ? { token: { user_id: userId } } : {});
    return bed.track(socket);
  }

  /** Subscribes to the presence of `room` and records its diffs and the kick-outs the client is told of. */
  async function watch(socket: AGClientSocket, room: string) {
    const diffs: Diff[] = [];
    const kicks: Array<{ channel: string; message: string }> = [];
    const channel = await subscribe(socket, `presence:${room}`);
    void (async () => {
      for await (const diff of channel) diffs.push(diff as Diff);
    })();
    void (async () => {
      for await (const kick of socket.listener('kickOut')) kicks.push(kick as { channel: string; message: string });
    })();
    return { diffs, kicks, joinsSeen: () => diffs.flatMap((d) => d.joins.map((m) => m.userId)) };
  }

  const serverSocket = (socket: AGClientSocket): AGServerSocket => ctx!.server.clients[socket.id!];

  /** A join in `room` by a new user: what a watcher that lost access must no longer receive. */
  async function someoneJoins(userId: string, room: string) {
    const joiner = await client(userId);
    await subscribe(joiner, room);
    await eventually(async () => expect(await ctx!.presence.count('users', room)).toBeGreaterThan(0));
    await sleep(100);
  }

  it('kicks a socket out of the presence of a channel it unsubscribed from, with a reason, and sends it no more diffs', async () => {
    await start();
    const ann = await client('ann');
    await subscribe(ann, 'room:1');
    const seen = await watch(ann, 'room:1');
    await someoneJoins('bob', 'room:1');
    await eventually(() => expect(seen.joinsSeen()).toContain('bob'));

    ann.unsubscribe('room:1');
    await eventually(() => expect(seen.kicks).toHaveLength(1));
    expect(seen.kicks[0].channel).toBe('presence:room:1');
    expect(seen.kicks[0].message).toMatch(/no longer allowed to see who is in 'room:1'/);
    await eventually(() => expect(serverSocket(ann).isSubscribed('presence:room:1')).toBe(false));
    const before = seen.diffs.length;
    await someoneJoins('cid', 'room:1');
    expect(seen.diffs.length).toBe(before);
    expect(ann.state).toBe(ann.OPEN);

    // Back in the room, it may watch again.
    await subscribe(ann, 'room:1');
    const again = await watch(ann, 'room:1');
    await someoneJoins('dee', 'room:1');
    await eventually(() => expect(again.joinsSeen()).toContain('dee'));
  });

  it('does the same when the server kicks the socket out of the channel', async () => {
    await start();
    const ann = await client('ann');
    await subscribe(ann, 'room:2');
    await subscribe(ann, 'room:3');
    const two = await watch(ann, 'room:2');
    await subscribe(ann, 'presence:room:3');
    await serverSocket(ann).kickOut('room:2', 'moderated');
    await eventually(() => expect(two.kicks.map((k) => k.channel).sort()).toEqual(['presence:room:2', 'room:2']));
    // Only the presence of the channel it left ends.
    await sleep(50);
    expect(serverSocket(ann).isSubscribed('presence:room:3')).toBe(true);
    const before = two.diffs.length;
    await someoneJoins('bob', 'room:2');
    expect(two.diffs.length).toBe(before);
  });

  it('re-checks access when the user of a socket changes or logs out, where canSubscribe depends on the user', async () => {
    await start({
      channels: ['vip'],
      canSubscribe: async (socket: AGServerSocket) => socket.authToken?.user_id === 'boss',
    });
    const boss = await client('boss');
    const seen = await watch(boss, 'vip');
    await someoneJoins('guest-1', 'vip');
    await eventually(() => expect(seen.joinsSeen()).toContain('guest-1'));

    // A renewed token of the same user keeps the access.
    await serverSocket(boss).setAuthToken({ user_id: 'boss', renewed: true });
    await sleep(100);
    expect(seen.kicks).toEqual([]);
    expect(serverSocket(boss).isSubscribed('presence:vip')).toBe(true);

    // Becoming someone else ends it.
    await serverSocket(boss).setAuthToken({ user_id: 'intern' });
    await eventually(() => expect(seen.kicks.map((k) => k.channel)).toEqual(['presence:vip']));
    expect(seen.kicks[0].message).toMatch(/not allowed/);
    const before = seen.diffs.length;
    await someoneJoins('guest-2', 'vip');
    expect(seen.diffs.length).toBe(before);

    // Logging out ends it too.
    const other = await client('boss');
    const otherSeen = await watch(other, 'vip');
    serverSocket(other).deauthenticate();
    await eventually(() => expect(otherSeen.kicks.map((k) => k.channel)).toEqual(['presence:vip']));
  });

  it('keeps the presence subscription of a socket that is still in the channel after a change of user', async () => {
    await start();
    const ann = await client('ann');
    await subscribe(ann, 'room:4');
    const seen = await watch(ann, 'room:4');
    await serverSocket(ann).setAuthToken({ user_id: 'ann-2' });
    serverSocket(ann).deauthenticate();
    await sleep(100);
    expect(seen.kicks).toEqual([]);
    await someoneJoins('bob', 'room:4');
    await eventually(() => expect(seen.joinsSeen()).toContain('bob'));
  });
});
