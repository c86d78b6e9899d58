import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import type { AGServerSocket } from 'socketcluster-server';
import type { UserPresenceMessage, UserPresenceOptions, WatchedUser } from '../../src/index.js';
import { BACKENDS, databaseOptions, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import { connectClient, subscribe } from '../support/clients.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe.each(BACKENDS)('watched users (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function start(userPresence: UserPresenceOptions = {}, extra: { offlineGraceMs?: number } = {}) {
    ctx = await bed.start({ userPresence, usercount: false, limits: { statusIntervalMs: 0 }, ...extra });
  }

  async function client(userId?: string) {
    return bed.track(await connectClient(ctx!.port, ctx!.server, userId ? { token: { user_id: userId } } : {}));
  }

  /** Subscribes to a user's presence and records its messages and the kick-outs the client is told of. */
  async function watch(socket: AGClientSocket, userId: string) {
    const messages: UserPresenceMessage[] = [];
    const kicks: Array<{ channel: string; message: string }> = [];
    const channel = await subscribe(socket, `presence:user:${userId}`);
    void (async () => {
      for await (const message of channel) messages.push(message as UserPresenceMessage);
    })();
    void (async () => {
      for await (const kick of socket.listener('kickOut')) kicks.push(kick as { channel: string; message: string });
    })();
    return { messages, kicks, transitions: () => messages.map((m) => `${m.previousStatus}>${m.status}`) };
  }

  const serverSocket = (socket: AGClientSocket): AGServerSocket => ctx!.server.clients[socket.id!];
  const failure = (promise: Promise<unknown>) => promise.then(() => new Error('accepted'), (error: Error) => error);

  it('sends one message per real transition of the watched user, with ISO times and lastSeen', async () => {
    await start();
    const ann = await client('ann');
    const bob = await watch(ann, 'bob');

    const tab1 = await client('bob');
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online']));
    const tab2 = await client('bob'); // a second tab is no transition
    await tab1.invoke('presence.setStatus', 'idle'); // one tab still online: no transition
    await sleep(150);
    expect(bob.transitions()).toEqual(['offline>online']);
    await tab2.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online', 'online>idle']));
    await tab1.invoke('presence.setStatus', 'online');
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online', 'online>idle', 'idle>online']));
    // tab2 is still there and idle: bob goes idle, then offline when it closes too.
    tab1.disconnect();
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online', 'online>idle', 'idle>online', 'online>idle']));
    tab2.disconnect();
    const all = ['offline>online', 'online>idle', 'idle>online', 'online>idle', 'idle>offline'];
    await eventually(() => expect(bob.transitions()).toEqual(all));
    await sleep(150);
    expect(bob.transitions()).toEqual(all);

    for (const message of bob.messages) {
      expect(Object.keys(message).sort()).toEqual(['at', 'lastSeen', 'previousStatus', 'status', 'userId']);
      expect(message.userId).toBe('bob');
      expect(message.at).toMatch(ISO);
      expect(message.lastSeen).toBe(message.at);
    }
    // What presence.users says afterwards agrees with the last message.
    const answer = (await ann.invoke('presence.users', ['bob'])) as Record<string, WatchedUser>;
    expect(answer).toEqual({ bob: { status: 'offline', lastSeen: bob.messages[4].lastSeen } });
    // Other users' transitions do not reach bob's watchers.
    await client('cid');
    await sleep(150);
    expect(bob.messages).toHaveLength(5);
  });

  it('sends one offline message after the offline grace, and none for a reload within it', async () => {
    await start({}, { offlineGraceMs: 300 });
    const ann = await client('ann');
    const bob = await watch(ann, 'bob');
    const first = await client('bob');
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online']));
    first.disconnect();
    await sleep(50);
    const second = await client('bob'); // back within the grace
    await sleep(500);
    expect(bob.transitions()).toEqual(['offline>online']);
    second.disconnect(); // not back: offline once the grace is over
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online', 'online>offline']));
    await sleep(400);
    expect(bob.transitions()).toEqual(['offline>online', 'online>offline']);
    expect(bob.messages[1].lastSeen).toBe(bob.messages[1].at);
  });

  it('lives next to channel presence with the default prefixes: presence:user:U is always user U', async () => {
    ctx = await bed.start({ userPresence: {}, channelPresence: { channels: () => true }, usercount: false });
    const ann = await client('ann');
    const bob = await watch(ann, 'bob'); // not a channel 'user:bob' ann would have to be in
    await subscribe(ann, 'room:1');
    await subscribe(ann, 'presence:room:1');
    const refused = await failure(subscribe(ann, 'presence:lobby')); // channel presence keeps its own rule
    expect(refused.message).toMatch(/subscribe to 'lobby' before/);
    const bobSocket = await client('bob');
    await subscribe(bobSocket, 'user:bob'); // a channel named like that has no channel presence
    await eventually(() => expect(bob.transitions()).toEqual(['offline>online']));
    await sleep(150);
    expect(bob.messages).toHaveLength(1);
    const members = await failure(ann.invoke('presence.members', 'user:bob'));
    expect(members.message).toMatch(/has no presence/);
  });

  it('refuses anonymous watchers, bad user ids, client publishes, and what canWatch refuses or throws on', async () => {
    const asked: string[] = [];
    await start({
      canWatch: async (socket, userId) => {
        asked.push(`${String(socket.authToken?.user_id)}:${userId}`);
        if (userId === 'boom') throw new Error('database down');
        return userId !== 'secret';
      },
    });
    const anonymous = await client();
    const refusedAnonymous = await failure(subscribe(anonymous, 'presence:user:bob'));
    expect(refusedAnonymous.name).toBe('PresenceError');
    expect(refusedAnonymous.message).toMatch(/anonymous socket cannot watch users/);
    expect(asked).toEqual([]);

    const ann = await client('ann');
    for (const userId of ['secret', 'boom']) {
      const refused = await failure(subscribe(ann, `presence:user:${userId}`));
      expect(refused.name).toBe('PresenceError');
      expect(refused.message).toBe(`not allowed to watch user '${userId}'`);
    }
    const empty = await failure(subscribe(ann, 'presence:user:'));
    expect(empty.name).toBe('PresenceError');
    expect(empty.message).toMatch(/watched user id must be a well-formed string/);
    const forged = await failure(ann.invokePublish('presence:user:bob', { userId: 'bob', status: 'offline' }));
    expect(forged.name).toBe('PresenceError');

    const allowed = await watch(ann, 'bob');
    expect(asked).toEqual(['ann:secret', 'ann:boom', 'ann:bob']);
    await client('bob');
    await eventually(() => expect(allowed.transitions()).toEqual(['offline>online']));
    expect(serverSocket(ann).subscriptions()).toEqual(['presence:user:bob']);
  });

  it('ends access when the socket logs out or becomes a user canWatch refuses, and keeps it for a renewed token', async () => {
    await start({ canWatch: (socket) => socket.authToken?.user_id !== 'intern' });
    const ann = await client('ann');
    const bob = await watch(ann, 'bob');
    await serverSocket(ann).setAuthToken({ user_id: 'ann', renewed: true });
    await sleep(100);
    expect(bob.kicks).toEqual([]);

    serverSocket(ann).deauthenticate();
    await eventually(() => expect(bob.kicks.map((k) => k.channel)).toEqual(['presence:user:bob']));
    expect(bob.kicks[0].message).toMatch(/^no longer allowed to watch user 'bob': an anonymous socket cannot watch users/);
    await eventually(() => expect(serverSocket(ann).isSubscribed('presence:user:bob')).toBe(false));
    await client('bob');
    await sleep(150);
    expect(bob.messages).toEqual([]);

    const dee = await client('dee');
    const cid = await watch(dee, 'cid');
    await serverSocket(dee).setAuthToken({ user_id: 'intern' });
    await eventually(() => expect(cid.kicks.map((k) => k.channel)).toEqual(['presence:user:cid']));
    expect(cid.kicks[0].message).toMatch(/not allowed to watch user 'cid'/);
    await client('cid');
    await sleep(150);
    expect(cid.messages).toEqual([]);
    expect(dee.state).toBe(dee.OPEN);
  });

  it('answers presence.users with status and lastSeen, within maxIds, refusing the whole call on one bad id', async () => {
    await start({ maxIds: 3, canWatch: (_socket, userId) => userId !== 'secret' });
    const ann = await client('ann');
    await client('bob');
    const cid = await client('cid');
    await cid.invoke('presence.setStatus', 'idle');
    const dee = await client('dee');
    dee.disconnect();
    await eventually(async () => expect(await ctx!.presence.getUserStatus('dee')).toBe('offline'));
    const { dee: deeSeen } = await ctx!.presence.getUserStatusDetails(['dee']);

    const before = Date.now();
    const answer = (await ann.invoke('presence.users', ['bob', 'cid', 'bob'])) as Record<string, WatchedUser>;
    expect(Object.keys(answer).sort()).toEqual(['bob', 'cid']);
    expect(answer.bob.status).toBe('online');
    expect(answer.cid.status).toBe('idle');
    // Online and idle users are being seen now.
    for (const user of [answer.bob, answer.cid]) expect(Date.parse(user.lastSeen!)).toBeGreaterThanOrEqual(before - 5);
    expect(await ann.invoke('presence.users', ['dee', 'never-seen'])).toEqual({
      dee: { status: 'offline', lastSeen: deeSeen.lastSeen!.toISOString() },
      'never-seen': { status: 'offline', lastSeen: null },
    });
    expect(await ann.invoke('presence.users', [])).toEqual({});

    const refusals: Array<[unknown, RegExp]> = [
      [['a', 'b', 'c', 'd'], /at most 3 user ids per call \(userPresence\.maxIds\)/],
      ['bob', /takes an array of user ids/],
      [null, /takes an array of user ids/],
      [['bob', 42], /takes an array of user ids/],
      [['bob', ''], /well-formed string of 1 to 255/],
      [['x'.repeat(256)], /well-formed string of 1 to 255/],
      [['bob', 'secret'], /not allowed to watch user 'secret'/],
    ];
    for (const [input, message] of refusals) {
      const error = await failure(ann.invoke('presence.users', input));
      expect(error.name).toBe('PresenceError');
      expect(error.message).toMatch(message);
    }
    const anonymous = await client();
    const refused = await failure(anonymous.invoke('presence.users', ['bob']));
    expect(refused.name).toBe('PresenceError');
    expect(refused.message).toMatch(/anonymous socket cannot watch users/);
  });

  it('answers presence.users for maxIds ids with one statement', async () => {
    const logger = new SqlStatementCounter({ record: true });
    ctx = await bed.start({ userPresence: {}, usercount: false, database: { ...databaseOptions(backend), logger } as never });
    const ann = await client('ann');
    await client('u7');
    await eventually(async () => expect(await ctx!.presence.getUserStatus('u7')).toBe('online'));
    const ids = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const before = logger.total;
    const answer = (await ann.invoke('presence.users', ids)) as Record<string, WatchedUser>;
    expect(logger.recorded.slice(before)).toHaveLength(1);
    expect(logger.recorded[before]).toMatch(/^SELECT SCP_user_id, SCP_status, /); // the status table's read (recorded lines are cut short)
    expect(Object.keys(answer)).toHaveLength(100);
    expect(answer.u7.status).toBe('online');
    expect(answer.u8).toEqual({ status: 'offline', lastSeen: null });
  });
});
