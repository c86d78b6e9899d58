import { afterEach, describe, expect, it } from 'vitest';
import { createPresenceClient, type PresenceClient } from '../../src/client/index.js';
import type { ChannelDiff, ChannelSnapshot, Member } from '../../src/presence.types.js';
import { FakeSocket } from '../support/fake-socket.js';

/**
 * channel(), users() and setState() over a socket the test drives: it decides when subscriptions are through,
 * what each procedure answers and when, the order of published messages, and when the connection drops.
 */
// A member as a server without session state sends it (the helper passes `states` through when there are some).
const on = (userId: string) => ({ userId, status: 'online' }) as Member;
const idle = (userId: string) => ({ userId, status: 'idle' }) as Member;
const diff = (seq: number, d: Partial<Pick<ChannelDiff, 'joins' | 'leaves' | 'updates'>>): ChannelDiff => ({
  channel: 'room', seq, joins: d.joins ?? [], leaves: d.leaves ?? [], updates: d.updates ?? [],
});
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

/** A procedure whose answers the test releases one by one. */
function held<T>() {
  const calls: Array<{ data: unknown; resolve: (value: T) => void; reject: (error: Error) => void }> = [];
  return {
    calls,
    handler: (data: unknown) => new Promise<T>((resolve, reject) => calls.push({ data, resolve, reject })),
  };
}

describe('client channel() over a fake socket', () => {
  let socket: FakeSocket;
  let client: PresenceClient;
  let errors: Error[];

  function start() {
    socket = new FakeSocket();
    errors = [];
    client = createPresenceClient(socket as never, { idleMonitor: false, onError: (e) => errors.push(e) });
  }
  afterEach(() => client?.destroy());

  it('subscribes, waits for the subscription, takes the snapshot and applies diffs buffered meanwhile', async () => {
    start();
    const members = held<ChannelSnapshot>();
    socket.procedures.set('presence.members', members.handler);
    const room = client.channel('room');
    expect(socket.channels.has('presence:room')).toBe(true);
    await tick(5);
    expect(members.calls).toHaveLength(0); // not before the subscription is through: a diff could slip between
    socket.accept('presence:room');
    await until(() => members.calls.length === 1, 'the snapshot request');
    expect(members.calls[0]!.data).toBe('room');
    socket.publish('presence:room', diff(4, { joins: [on('bob')] }));
    socket.publish('presence:room', diff(5, { updates: [idle('bob')] }));
    await tick(5);
    expect(room.latest).toBeUndefined();
    members.calls[0]!.resolve({ channel: 'room', seq: 4, members: [on('ann'), on('bob')] });
    const first = await room[Symbol.asyncIterator]().next();
    expect(first.value).toEqual({ channel: 'room', seq: 5, members: [on('ann'), idle('bob')] });
    room.close();
  });

  it('yields after every diff, holds an early one for the missing seq, and re-fetches after a gap that stays', async () => {
    start();
    let snapshots = 0;
    let next: ChannelSnapshot = { channel: 'room', seq: 1, members: [on('ann')] };
    socket.procedures.set('presence.members', () => {
      snapshots += 1;
      return next;
    });
    const room = client.channel('room', { gapWaitMs: 40 });
    socket.accept('presence:room');
    const seen: number[] = [];
    const loop = (async () => {
      for await (const view of room) {
        seen.push(view.seq);
        if (view.seq >= 9) break;
      }
    })();
    await until(() => room.latest?.seq === 1, 'the first view');
    socket.publish('presence:room', diff(3, { joins: [on('cid')] })); // crossed with 2 on its way
    socket.publish('presence:room', diff(2, { joins: [on('bob')] }));
    await until(() => room.latest?.seq === 3, 'seq 3');
    expect(snapshots).toBe(1);
    expect(room.latest!.members).toEqual([on('ann'), on('bob'), on('cid')]);

    socket.publish('presence:room', diff(5, { leaves: [on('ann')] })); // 4 never comes
    await tick(10);
    expect(snapshots).toBe(1); // still waiting for 4
    next = { channel: 'room', seq: 8, members: [on('bob'), on('dee')] };
    await until(() => snapshots === 2, 'the re-fetch after the gap');
    await until(() => room.latest?.seq === 8, 'the new snapshot');
    socket.publish('presence:room', diff(9, { joins: [on('eve')] }));
    await loop;
    expect(seen[0]).toBe(1);
    expect(seen.at(-1)).toBe(9);
    expect(room.latest!.members.map((m) => m.userId)).toEqual(['bob', 'dee', 'eve']);
    // Breaking out of the loop cleaned up: unsubscribed, no consumer of ours left on the channel.
    expect(socket.unsubscribed).toEqual(['presence:room']);
    expect(socket.record('presence:room').consumers()).toBe(0);
    expect(room.closed).toBe(true);
  });

  it('re-syncs after a reconnect, and drops a snapshot asked for on the old connection', async () => {
    start();
    const members = held<ChannelSnapshot>();
    socket.procedures.set('presence.members', members.handler);
    const room = client.channel('room');
    socket.accept('presence:room');
    await until(() => members.calls.length === 1, 'the first request');
    members.calls[0]!.resolve({ channel: 'room', seq: 3, members: [on('ann')] });
    await until(() => room.latest?.seq === 3, 'the first view');

    socket.publish('presence:room', diff(4, { joins: [on('bob')] }));
    await until(() => room.latest?.seq === 4, 'seq 4');
    socket.drop();
    // seq 5 (bob leaves) is published while this socket is away: nothing but a new snapshot can tell.
    socket.reconnect();
    socket.accept('presence:room');
    await until(() => members.calls.length === 2, 'the request after reconnect');
    socket.drop(); // and once more, before the answer
    socket.reconnect();
    socket.accept('presence:room');
    members.calls[1]!.resolve({ channel: 'room', seq: 5, members: [on('ann')] });
    await until(() => members.calls.length === 3, 'a request from the newest connection');
    expect(room.latest?.seq).toBe(4);
    members.calls[2]!.resolve({ channel: 'room', seq: 6, members: [on('ann'), on('cid')] });
    await until(() => room.latest?.seq === 6, 'the view after the reconnects');
    expect(room.latest!.members).toEqual([on('ann'), on('cid')]);
    expect(errors).toEqual([]);
  });

  it('keeps memory bounded: a full buffer is dropped for a new snapshot', async () => {
    start();
    let snapshots = 0;
    socket.procedures.set('presence.members', () => ({ channel: 'room', seq: 100 + snapshots++, members: [] }));
    const room = client.channel('room', { maxBuffered: 5, gapWaitMs: 10_000 });
    socket.accept('presence:room');
    await until(() => room.latest?.seq === 100, 'the first view');
    for (let seq = 110; seq < 116; seq++) socket.publish('presence:room', diff(seq, {})); // none follows 100
    await until(() => snapshots === 2, 'the re-fetch on overflow');
    await until(() => room.latest?.seq === 101, 'the view after the re-fetch');
    room.close();
  });

  it('asks again after a refused subscription, and reports the refusal once', async () => {
    start();
    socket.procedures.set('presence.members', () => ({ channel: 'room', seq: 0, members: [] }));
    const room = client.channel('room', { retryMs: 10 });
    socket.refuse('presence:room', 'subscribe to room first');
    await until(() => socket.record('presence:room').subscribeRequests === 2, 'the second request');
    socket.refuse('presence:room', 'subscribe to room first');
    await until(() => socket.record('presence:room').subscribeRequests === 3, 'the third request');
    socket.accept('presence:room');
    await until(() => room.latest !== undefined, 'the view');
    expect(errors.map((e) => e.message)).toEqual(['subscribe to room first']);
    room.close();
  });

  it('shares one subscription between two followers of a room, and leaves one the app made alone', async () => {
    start();
    socket.procedures.set('presence.members', () => ({ channel: 'room', seq: 0, members: [] }));
    const a = client.channel('room');
    const b = client.channel('room');
    a.close();
    expect(socket.unsubscribed).toEqual([]);
    b.close();
    expect(socket.unsubscribed).toEqual(['presence:room']);

    socket.subscribe('presence:mine');
    const c = client.channel('mine');
    c.close();
    expect(socket.unsubscribed).toEqual(['presence:room']);
    // destroy() ends what is still running.
    const d = client.channel('other');
    client.destroy();
    expect(d.closed).toBe(true);
  });
});

describe('client users() over a fake socket', () => {
  let socket: FakeSocket;
  let client: PresenceClient;
  let errors: Error[];
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();

  function start() {
    socket = new FakeSocket();
    errors = [];
    client = createPresenceClient(socket as never, { idleMonitor: false, onError: (e) => errors.push(e) });
  }
  afterEach(() => client?.destroy());

  it('subscribes per user, asks once all are through, applies transitions and re-syncs after reconnect', async () => {
    start();
    const answers = held<Record<string, { status: string; lastSeen: string | null }>>();
    socket.procedures.set('presence.users', answers.handler);
    const friends = client.users(['ann', 'bob', 'ann']);
    expect([...socket.channels.keys()]).toEqual(['presence:user:ann', 'presence:user:bob']);
    socket.accept('presence:user:ann');
    await tick(40);
    expect(answers.calls).toHaveLength(0);
    socket.accept('presence:user:bob');
    await until(() => answers.calls.length === 1, 'the request');
    expect(answers.calls[0]!.data).toEqual(['ann', 'bob']);
    socket.publish('presence:user:bob', { userId: 'bob', status: 'online', previousStatus: 'offline', lastSeen: null, at: at(1) });
    await tick(5);
    answers.calls[0]!.resolve({ ann: { status: 'idle', lastSeen: null }, bob: { status: 'offline', lastSeen: at(0) } });
    const iterator = friends[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ ann: { status: 'idle', lastSeen: null }, bob: { status: 'online', lastSeen: null } });

    socket.publish('presence:user:ann', { userId: 'ann', status: 'offline', previousStatus: 'idle', lastSeen: at(2), at: at(2) });
    expect((await iterator.next()).value).toMatchObject({ ann: { status: 'offline', lastSeen: at(2) } });

    socket.drop();
    socket.reconnect();
    socket.acceptAll();
    await until(() => answers.calls.length === 2, 'the request after reconnect');
    answers.calls[1]!.resolve({ ann: { status: 'online', lastSeen: null }, bob: { status: 'online', lastSeen: null } });
    expect((await iterator.next()).value).toMatchObject({ ann: { status: 'online' } });
    await iterator.return!();
    expect(socket.unsubscribed.sort()).toEqual(['presence:user:ann', 'presence:user:bob']);
    expect(errors).toEqual([]);
  });

  it('uses the prefix given, asks in parts of maxIdsPerRequest, and leaves out a user it may not watch', async () => {
    start();
    const asked: string[][] = [];
    socket.procedures.set('presence.users', (ids) => {
      asked.push(ids as string[]);
      return Object.fromEntries((ids as string[]).map((id) => [id, { status: 'offline', lastSeen: null }]));
    });
    const friends = client.users(['a', 'b', 'c', 'x'], { prefix: 'friends/', maxIdsPerRequest: 2, retryMs: 10_000 });
    socket.refuse('friends/x', 'not allowed to watch x');
    for (const id of ['a', 'b', 'c']) socket.accept(`friends/${id}`);
    await until(() => friends.latest !== undefined, 'the view');
    expect(asked).toEqual([['a', 'b'], ['c']]);
    expect(Object.keys(friends.latest!)).toEqual(['a', 'b', 'c']);
    expect(errors.map((e) => e.message)).toEqual(['not allowed to watch x']);
    friends.close();
  });

  it('refuses ids that are not non-empty strings', () => {
    start();
    expect(() => client.users('ann' as never)).toThrow(TypeError);
    expect(() => client.users(['ann', ''])).toThrow(/non-empty strings/);
    expect(() => client.users([7 as never])).toThrow(/non-empty strings/);
  });
});

describe('client setState() over a fake socket', () => {
  it('sends the state, re-sends it on every new connection, and keeps the last accepted one when refused', async () => {
    const socket = new FakeSocket();
    const errors: Error[] = [];
    const sent: Array<{ socket: string | null; state: unknown }> = [];
    socket.procedures.set('presence.setState', (state) => {
      if (JSON.stringify(state).length > 50) throw Object.assign(new Error('state too big'), { name: 'PresenceError' });
      sent.push({ socket: socket.id, state });
      return undefined;
    });
    socket.procedures.set('presence.setStatus', () => undefined);
    const client = createPresenceClient(socket as never, { idleMonitor: false, onError: (e) => errors.push(e) });
    const state = { device: 'phone' };
    await client.setState(state);
    state.device = 'changed afterwards';
    expect(client.state).toEqual({ device: 'phone' });
    const big = await client.setState({ text: 'x'.repeat(100) }).catch((e: Error) => e);
    expect((big as Error).name).toBe('PresenceError');
    expect(client.state).toEqual({ device: 'phone' });
    await expect(client.setState([] as never)).rejects.toThrow(TypeError);

    socket.drop();
    socket.reconnect();
    await until(() => sent.length === 2, 'the re-send');
    expect(sent).toEqual([
      { socket: 'socket-1', state: { device: 'phone' } },
      { socket: 'socket-2', state: { device: 'phone' } },
    ]);
    await client.setState(null);
    socket.drop();
    socket.reconnect();
    await tick(20);
    expect(sent.map((s) => s.state)).toEqual([{ device: 'phone' }, { device: 'phone' }, null]); // nothing to re-send
    expect(errors).toEqual([]);
    client.destroy();
  });
});
