import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { eventually, sleep, uniqueTable } from '../support/presence-app.js';
import { startBroker, startInstance, startStateServer, type Instance } from './support/cluster.js';
import { closeSockets, connectMany, receive, subscribeTo } from './support/clients.js';
import { Db, MYSQL_URL } from './support/db.js';
import { killAllStarted } from './support/processes.js';
import type { ChannelDiff as Diff, ChannelSnapshot as Snapshot } from '../../src/index.js';

/*
 * Session state across two presence processes on one MariaDB table, joined by SCC (the scc-state stand-in and
 * a real scc-broker, as in cluster.test.ts): a state set on one instance reaches a room's watchers on the other
 * as one `updates` entry per change, and the snapshot either instance answers carries the same states.
 */
const AUTH_KEY = randomBytes(16).toString('hex');
const ROOM = 'room:state';

describe.sequential('session state in a cluster of two presence processes joined by SCC', () => {
  const db = Db.open();
  const table = uniqueTable('clst');
  const sockets: AGClientSocket[] = [];
  let A: Instance;
  let B: Instance;

  beforeAll(async () => {
    const state = await startStateServer();
    await startBroker(state);
    const config = { databaseUrl: MYSQL_URL, tableName: table, authKey: AUTH_KEY, scc: { host: '127.0.0.1', port: state.port }, channelPresence: [ROOM] };
    [A, B] = await Promise.all(['A', 'B'].map((name) => startInstance(name, config)));
  }, 120_000);

  afterAll(async () => {
    closeSockets(sockets);
    await killAllStarted();
    await db.dropTables(table).catch(() => undefined);
    await db.close();
  }, 30_000);

  it('publishes each state change once, from the instance that stored it, to watchers on the other', async () => {
    const [ann, bobOnB, bobOnA] = await connectMany([{ port: A.port, userId: 'ann' }, { port: B.port, userId: 'bob' }, { port: A.port, userId: 'bob' }], AUTH_KEY);
    sockets.push(ann, bobOnB, bobOnA);
    for (const socket of [ann, bobOnB, bobOnA]) await subscribeTo(socket, ROOM);
    const diffs = receive<Diff>(ann, `presence:${ROOM}`);
    await diffs.ready();

    // SCC carries B's publishes to A once a diff made on B reaches ann. Bob's tab on A goes idle first, so that
    // the tab on B makes bob idle, and back online, in transactions of B.
    await eventually(async () => {
      await bobOnA.invoke('presence.setStatus', 'idle');
      await bobOnB.invoke('presence.setStatus', 'idle');
      await sleep(200);
      await bobOnB.invoke('presence.setStatus', 'online');
      await bobOnA.invoke('presence.setStatus', 'online');
      await sleep(200);
      expect(diffs.values().some((d) => d.updates.some((m) => m.userId === 'bob' && m.status === 'idle'))).toBe(true);
    }, 30_000, 0);
    await eventually(async () => {
      const snapshot = (await ann.invoke('presence.members', ROOM)) as Snapshot;
      expect(snapshot.members).toEqual([{ userId: 'ann', status: 'online', states: [] }, { userId: 'bob', status: 'online', states: [] }]);
    }, 10_000);
    await sleep(1200); // past limits.statusIntervalMs: the state changes below each go out at once
    const from = (await ann.invoke('presence.members', ROOM)) as Snapshot;
    const stateUpdates = () => diffs.values().filter((d) => d.seq > from.seq).flatMap((d) => d.updates);

    await bobOnB.invoke('presence.setState', { typing: true });
    await eventually(() => expect(stateUpdates()).toEqual([{ userId: 'bob', status: 'online', states: [{ typing: true }] }]), 10_000);
    await bobOnA.invoke('presence.setState', { device: 'tablet' });
    const both = [{ device: 'tablet' }, { typing: true }];
    await eventually(() => expect(stateUpdates().at(-1)).toEqual({ userId: 'bob', status: 'online', states: both }), 10_000);
    await sleep(1200);
    await bobOnB.invoke('presence.setState', null);
    await eventually(() => expect(stateUpdates().at(-1)).toEqual({ userId: 'bob', status: 'online', states: [{ device: 'tablet' }] }), 10_000);
    await sleep(300);

    // One diff per change in the whole cluster, numbered without a gap whichever instance made it.
    expect(stateUpdates().map((m) => m.states)).toEqual([[{ typing: true }], both, [{ device: 'tablet' }]]);
    const after = diffs.values().filter((d) => d.seq > from.seq);
    expect(after.map((d) => d.seq)).toEqual(after.map((_, i) => from.seq + 1 + i));

    // Both instances answer the same snapshot, read from the shared table.
    const onA = (await ann.invoke('presence.members', ROOM)) as Snapshot;
    const onB = (await bobOnB.invoke('presence.members', ROOM)) as Snapshot;
    expect(onA).toEqual(onB);
    expect(onA.members).toEqual([{ userId: 'ann', status: 'online', states: [] }, { userId: 'bob', status: 'online', states: [{ device: 'tablet' }] }]);
    const rows = await db.query<{ i: string; s: string | null }>(
      `SELECT SCP_instance_id AS i, SCP_state AS s FROM \`${table}\` WHERE SCP_user_id = 'bob' AND SCP_channel = '_SCPRESENCE'`,
    );
    expect(rows.map((r) => [r.i, r.s]).sort()).toEqual([[A.id, '{"device":"tablet"}'], [B.id, null]].sort());
  }, 120_000);
});
