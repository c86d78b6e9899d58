import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { createPresenceClient, type PresenceClient, type WatchedUsers } from '../../src/client/index.js';
import type { PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, type PresenceApp } from '../support/presence-app.js';

const statuses = (view: WatchedUsers | undefined) =>
  view && Object.fromEntries(Object.entries(view).map(([id, user]) => [id, user.status]));

describe.each(BACKENDS)('client users() with real sockets (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;
  let errors: Error[];

  async function start(userPresence: PresenceModuleOptions['userPresence'] = {}) {
    errors = [];
    ctx = await bed.start({ userPresence, usercount: false, limits: { statusIntervalMs: 0 } });
  }

  function helper(socket: AGClientSocket): PresenceClient {
    const presence = createPresenceClient(socket, { idleMonitor: false, onError: (error) => errors.push(error) });
    bed.onCleanup(() => presence.destroy());
    return presence;
  }

  const user = (userId: string) => bed.connect({ token: { user_id: userId } });
  const agrees = (view: () => WatchedUsers | undefined, ids: string[]) =>
    eventually(async () => expect(statuses(view())).toEqual(await ctx.presence.getUserStatuses(ids)));

  it('follows each user through online, idle and offline, with lastSeen, as the service answers', async () => {
    await start();
    const ann = await user('ann');
    const friends = helper(ann).users(['bob', 'cid', 'ann']);
    await eventually(() => expect(statuses(friends.latest)).toEqual({ bob: 'offline', cid: 'offline', ann: 'online' }));
    expect(friends.latest!.bob!.lastSeen).toBeNull(); // never seen

    const bob = await user('bob');
    await eventually(() => expect(friends.latest!.bob!.status).toBe('online'));
    await bob.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(friends.latest!.bob!.status).toBe('idle'));
    const cid = await user('cid');
    await agrees(() => friends.latest, ['bob', 'cid', 'ann']);
    bob.disconnect();
    await eventually(() => expect(friends.latest!.bob!.status).toBe('offline'));
    expect(Number.isFinite(Date.parse(friends.latest!.bob!.lastSeen!))).toBe(true);
    await agrees(() => friends.latest, ['bob', 'cid', 'ann']);
    cid.disconnect();
    await eventually(() => expect(friends.latest!.cid!.status).toBe('offline'));
    expect(errors).toEqual([]);
  });

  it('re-syncs after a reconnect: a transition missed while away shows', async () => {
    await start();
    const ann = await user('ann');
    const friends = helper(ann).users(['bob']);
    await eventually(() => expect(statuses(friends.latest)).toEqual({ bob: 'offline' }));
    ann.disconnect();
    await user('bob');
    await eventually(async () => expect(await ctx.presence.getUserStatus('bob')).toBe('online'));
    expect(statuses(friends.latest)).toEqual({ bob: 'offline' }); // the closed socket heard nothing
    ann.connect();
    await eventually(() => expect(statuses(friends.latest)).toEqual({ bob: 'online' }));
    expect(errors).toEqual([]);
  });

  it('leaves out a user canWatch refuses, and reports it once', async () => {
    await start({ canWatch: (_socket, userId) => userId !== 'secret' });
    const ann = await user('ann');
    const friends = helper(ann).users(['bob', 'secret'], { retryMs: 50 });
    await eventually(() => expect(statuses(friends.latest)).toEqual({ bob: 'offline' }));
    await user('bob');
    await eventually(() => expect(statuses(friends.latest)).toEqual({ bob: 'online' }));
    expect(errors.map((e) => e.name)).toEqual(['PresenceError']);
  });

  it('ends its subscriptions when the loop breaks', async () => {
    await start();
    const ann = await user('ann');
    for await (const view of helper(ann).users(['bob', 'cid'])) {
      expect(statuses(view)).toEqual({ bob: 'offline', cid: 'offline' });
      break;
    }
    const serverSocket = ctx.server.clients[ann.id!]!;
    await eventually(() => expect(serverSocket.subscriptions()).toEqual([]));
  });
});
