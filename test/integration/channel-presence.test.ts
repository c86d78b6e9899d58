import { describe, expect, it } from 'vitest';
import type { AGServerSocket } from 'socketcluster-server';
import type { PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { connectClient, subscribe } from '../support/clients.js';
import type { ChannelDiff as Diff, ChannelSnapshot as Snapshot } from '../../src/index.js';

/** What a client would do: take the snapshot, then apply every diff with a higher seq. */
function roomView(snapshot: Snapshot, diffs: Diff[]): Map<string, string> {
  const members = new Map(snapshot.members.map((m) => [m.userId, m.status as string]));
  for (const diff of diffs.filter((d) => d.seq > snapshot.seq).sort((a, b) => a.seq - b.seq)) {
    for (const m of diff.leaves) members.delete(m.userId);
    for (const m of [...diff.joins, ...diff.updates]) members.set(m.userId, m.status);
  }
  return members;
}

describe.each(BACKENDS)('channel presence (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function start(channelPresence: PresenceModuleOptions['channelPresence'] = { channels: /^room:/ }) {
    ctx = await bed.start({ channelPresence });
  }

  async function client(userId?: string) {
    const socket = await connectClient(ctx!.port, ctx!.server, userId ? { token: { user_id: userId } } : {});
    bed.track(socket);
    return socket;
  }

  /** A socket in the room that records the room's diffs. */
  async function watcher(userId: string, room: string) {
    const socket = await client(userId);
    await subscribe(socket, room);
    const diffs: Diff[] = [];
    const channel = await subscribe(socket, `presence:${room}`);
    void (async () => {
      for await (const diff of channel) diffs.push(diff as Diff);
    })();
    return { socket, diffs };
  }

  it('reports joins, leaves and idle updates aggregated per user', async () => {
    await start();
    const ann = await watcher('ann', 'room:1');
    await eventually(async () => expect((await ann.socket.invoke('presence.members', 'room:1')) as Snapshot).toMatchObject({ members: [{ userId: 'ann', status: 'online' }] }));

    const bob1 = await client('bob');
    await subscribe(bob1, 'room:1');
    await eventually(() => expect(ann.diffs.flatMap((d) => d.joins)).toContainEqual({ userId: 'bob', status: 'online', states: [] }));
    const bob2 = await client('bob'); // a second tab of a member is not a join
    await subscribe(bob2, 'room:1');
    const cid = await client('cid');
    await subscribe(cid, 'room:1');
    await subscribe(cid, 'room:2');
    const anonymous = await client(); // anonymous sockets are not members
    await subscribe(anonymous, 'room:1');
    await eventually(() => expect(ann.diffs.flatMap((d) => d.joins.map((m) => m.userId))).toEqual(expect.arrayContaining(['bob', 'cid'])));
    await sleep(100);
    expect(ann.diffs.flatMap((d) => d.joins.map((m) => m.userId)).filter((u) => u === 'bob')).toHaveLength(1);

    await bob1.invoke('presence.setStatus', 'idle'); // bob still has an online tab in the room: no update
    await cid.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(ann.diffs.flatMap((d) => d.updates)).toContainEqual({ userId: 'cid', status: 'idle', states: [] }));
    expect(ann.diffs.flatMap((d) => d.updates).map((m) => m.userId)).not.toContain('bob');

    bob1.disconnect();
    await sleep(100);
    expect(ann.diffs.flatMap((d) => d.leaves)).toEqual([]); // bob2 is still there
    bob2.unsubscribe('room:1');
    await eventually(() => expect(ann.diffs.flatMap((d) => d.leaves).map((m) => m.userId)).toEqual(['bob']));

    const seqs = ann.diffs.map((d) => d.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const diff of ann.diffs) {
      expect(diff.channel).toBe('room:1');
      expect(JSON.stringify(diff)).not.toMatch(/127\.0\.0\.1|authToken|user_id/);
    }

    // Snapshot + diffs equal the service's answer.
    const snapshot = (await ann.socket.invoke('presence.members', 'room:1')) as Snapshot;
    const expected = new Map([['ann', 'online'], ['cid', 'idle']]);
    expect(roomView(snapshot, [])).toEqual(expected);
    const sessions = await ctx!.presence.getChannelMembers('room:1');
    expect(new Set(sessions.map((s) => s.userId).filter((u) => u !== null))).toEqual(new Set(expected.keys()));
  });

  it('refuses sockets that are not in the room, and client publishes on presence channels', async () => {
    await start();
    const member = await client('dee');
    await subscribe(member, 'room:x');
    const outsider = await client('eve');
    const refused = await subscribe(outsider, 'presence:room:x').catch((e: Error) => e);
    expect((refused as Error).name).toBe('PresenceError');
    const invoke = await outsider.invoke('presence.members', 'room:x').catch((e: Error) => e);
    expect((invoke as Error).name).toBe('PresenceError');
    const notWatched = await member.invoke('presence.members', 'lobby').catch((e: Error) => e);
    expect((notWatched as Error).message).toMatch(/has no presence/);
    for (const bad of [42, null, '', 'x'.repeat(300), { channel: 'room:x' }]) {
      const error = await member.invoke('presence.members', bad).catch((e: Error) => e);
      expect((error as Error).name).toBe('PresenceError');
    }
    const forged = await member.invokePublish('presence:room:x', { joins: [{ userId: 'mallory' }] }).catch((e: Error) => e);
    expect((forged as Error).name).toBe('PresenceError');
    const forgedCount = await member.invokePublish('USERCOUNT', 9999).catch((e: Error) => e);
    expect((forgedCount as Error).name).toBe('PresenceError');
  });

  it('lets a custom canSubscribe decide, sync or async', async () => {
    const seen: string[] = [];
    await start({
      channels: ['vip'],
      canSubscribe: async (socket: AGServerSocket, channel: string) => {
        seen.push(channel);
        return socket.authToken?.user_id === 'boss';
      },
    });
    const boss = await client('boss'); // not subscribed to 'vip', but allowed
    const snapshot = (await boss.invoke('presence.members', 'vip')) as Snapshot;
    expect(snapshot).toEqual({ channel: 'vip', seq: 0, members: [] });
    await subscribe(boss, 'presence:vip');
    const staff = await client('staff');
    await subscribe(staff, 'vip');
    const refused = await subscribe(staff, 'presence:vip').catch((e: Error) => e);
    expect((refused as Error).message).toMatch(/not allowed/);
    expect(seen).toEqual(['vip', 'vip', 'vip']);
  });

  it('coalesces a storm of joins into a few diffs that add up to the members', async () => {
    await start();
    const ann = await watcher('ann', 'room:storm');
    // Her own join may have gone out before her presence subscription was accepted: like any client, she
    // starts from a snapshot and applies the diffs after it.
    const first = (await ann.socket.invoke('presence.members', 'room:storm')) as Snapshot;
    const after = () => ann.diffs.filter((d) => d.seq > first.seq).sort((a, b) => a.seq - b.seq);
    const storm = await Promise.all(Array.from({ length: 60 }, (_, i) => client(`user${i}`)));
    await Promise.all(storm.map((socket) => subscribe(socket, 'room:storm')));
    await eventually(() => expect(roomView(first, ann.diffs).size).toBe(61));
    // No diff was missed: they follow the snapshot without a gap.
    expect(after().map((d) => d.seq)).toEqual(after().map((_, i) => first.seq + 1 + i));
    expect(after().length).toBeLessThan(20);

    const snapshot = (await ann.socket.invoke('presence.members', 'room:storm')) as Snapshot;
    expect(snapshot.members).toHaveLength(61);
    // A client that took the first snapshot and applied every diff since sees the same members.
    expect(roomView(first, ann.diffs)).toEqual(roomView(snapshot, []));
    expect(await ctx!.presence.count('users', 'room:storm')).toBe(61);
  });
});
