import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { createPresenceClient, type ChannelView, type PresenceClient } from '../../src/client/index.js';
import { BACKENDS, eventually, presenceTestBed, type PresenceApp } from '../support/presence-app.js';
import { subscribe } from '../support/clients.js';
import { comparable, serviceMembers } from '../support/channel-members.js';

const plain = (view: ChannelView | undefined) => view?.members.map(({ userId, status }) => ({ userId, status }));

describe.each(BACKENDS)('client channel() with real sockets (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;
  let errors: Error[];

  async function start() {
    errors = [];
    ctx = await bed.start({ channelPresence: { channels: /^room:/ } });
  }

  function helper(socket: AGClientSocket): PresenceClient {
    const presence = createPresenceClient(socket, { idleMonitor: false, onError: (error) => errors.push(error) });
    bed.onCleanup(() => presence.destroy());
    return presence;
  }

  async function member(userId: string, room: string) {
    const socket = await bed.connect({ token: { user_id: userId } });
    await subscribe(socket, room);
    return socket;
  }

  const agrees = (view: () => ChannelView | undefined, room: string) =>
    eventually(async () => expect(comparable(view()?.members)).toEqual(await serviceMembers(ctx.presence, room)));

  it('follows joins, a second tab, idle and leaves, and yields a value per change', async () => {
    await start();
    const ann = await member('ann', 'room:1');
    const room = helper(ann).channel('room:1');
    const values: ChannelView[] = [];
    const loop = (async () => {
      for await (const view of room) values.push(view);
    })();
    await eventually(() => expect(plain(room.latest)).toEqual([{ userId: 'ann', status: 'online' }]));

    const bob = await member('bob', 'room:1');
    const bob2 = await member('bob', 'room:1');
    const cid = await member('cid', 'room:1');
    await agrees(() => room.latest, 'room:1');
    expect(plain(room.latest)!.map((m) => m.userId)).toEqual(['ann', 'bob', 'cid']);

    await cid.invoke('presence.setStatus', 'idle');
    await bob.invoke('presence.setStatus', 'idle'); // bob2 is still online: no change
    await eventually(() => expect(plain(room.latest)).toContainEqual({ userId: 'cid', status: 'idle' }));
    expect(plain(room.latest)).toContainEqual({ userId: 'bob', status: 'online' });
    bob2.unsubscribe('room:1');
    await eventually(() => expect(plain(room.latest)).toContainEqual({ userId: 'bob', status: 'idle' }));
    bob.disconnect();
    await eventually(() => expect(plain(room.latest)!.map((m) => m.userId)).toEqual(['ann', 'cid']));
    await agrees(() => room.latest, 'room:1');

    // Every value came from the snapshot or a diff: their seqs only go up.
    const seqs = values.map((v) => v.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(room.latest!.seq).toBe((await ann.invoke('presence.members', 'room:1') as { seq: number }).seq);
    room.close();
    await loop;
    expect(errors).toEqual([]);
  });

  it('re-syncs after a reconnect: what changed while the socket was away shows', async () => {
    await start();
    // A visitor (anonymous, so not a member): its own return makes no diff that would reveal a gap.
    const visitor = await bed.connect();
    await subscribe(visitor, 'room:2');
    const room = helper(visitor).channel('room:2');
    const bob = await member('bob', 'room:2');
    await eventually(() => expect(plain(room.latest)!.map((m) => m.userId)).toEqual(['bob']));

    visitor.disconnect();
    bob.disconnect();
    const cid = await member('cid', 'room:2');
    await eventually(async () => expect((await serviceMembers(ctx.presence, 'room:2')).map((m) => m.userId)).toEqual(['cid']));
    expect(plain(room.latest)!.map((m) => m.userId)).toEqual(['bob']); // nothing reached the closed socket
    visitor.connect(); // the client renews its subscriptions by itself
    await eventually(() => expect(plain(room.latest)!.map((m) => m.userId)).toEqual(['cid']));
    await agrees(() => room.latest, 'room:2');
    await cid.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(plain(room.latest)).toContainEqual({ userId: 'cid', status: 'idle' }));
    expect(errors).toEqual([]);
  });

  it('waits for the app to join the room: the refused presence subscription is asked again', async () => {
    await start();
    const ann = await bed.connect({ token: { user_id: 'ann' } });
    const room = helper(ann).channel('room:3', { retryMs: 50 });
    await eventually(() => expect(errors.map((e) => e.name)).toEqual(['PresenceError']));
    await subscribe(ann, 'room:3');
    await eventually(() => expect(plain(room.latest)).toEqual([{ userId: 'ann', status: 'online' }]));
    expect(errors).toHaveLength(1);
    room.close();
  });

  it('ends its subscription when the loop breaks', async () => {
    await start();
    const ann = await member('ann', 'room:4');
    const presence = helper(ann);
    const serverSocket = () => ctx.server.clients[ann.id!]!;
    for await (const view of presence.channel('room:4')) {
      expect(plain(view)).toEqual([{ userId: 'ann', status: 'online' }]);
      break;
    }
    await eventually(() => expect(serverSocket().isSubscribed('presence:room:4')).toBe(false));
    expect(serverSocket().isSubscribed('room:4')).toBe(true); // the app's own subscription stays
    expect(ann.isSubscribed('presence:room:4', true)).toBe(false);
  });
});
