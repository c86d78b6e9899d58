import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import type { ChannelDiff, UserPresenceMessage, WatchedUser } from '../../src/index.js';
import { eventually, sleep, uniqueTable } from '../support/presence-app.js';
import { startBroker, startInstance, startStateServer, type Instance, type StateServer } from './support/cluster.js';
import { closeSockets, connectMany, receive } from './support/clients.js';
import { Db, MYSQL_URL } from './support/db.js';
import { killAllStarted } from './support/processes.js';

/*
 * Two presence processes on one MariaDB table, joined by SCC (see cluster.test.ts for the fixtures), with user
 * presence on and channel presence for 'room'. A follows the diffs of 'room' with channelDiffs$.
 */
const AUTH_KEY = randomBytes(16).toString('hex');
/** Long enough for a stray second publish of the same transition to have crossed the broker. */
const SETTLE_MS = 600;

describe.sequential('watched users and channel observers across instances joined by SCC', () => {
  const db = Db.open();
  const table = uniqueTable('cluwatch');
  const sockets: AGClientSocket[] = [];
  let state: StateServer;
  let A: Instance;
  let B: Instance;

  const open = async (specs: Array<{ port: number; userId?: string }>) => {
    const opened = await connectMany(specs, AUTH_KEY);
    sockets.push(...opened);
    return opened;
  };

  /** A watcher of `userId`: what reaches it on `presence:user:<userId>`. */
  const watchOn = async (instance: Instance, watcherId: string, userId: string) => {
    const [socket] = await open([{ port: instance.port, userId: watcherId }]);
    const seen = receive<UserPresenceMessage>(socket, `presence:user:${userId}`);
    await seen.ready();
    return { socket, transitions: () => seen.values().map((m) => `${m.previousStatus}>${m.status}`), values: seen.values };
  };

  const statusOf = async (userId: string) => (await db.statuses(table, [userId]))[userId];

  beforeAll(async () => {
    state = await startStateServer();
    await startBroker(state);
    const config = { databaseUrl: MYSQL_URL, tableName: table, authKey: AUTH_KEY, scc: { host: '127.0.0.1', port: state.port }, userPresence: true, channelPresence: ['room'] };
    [A, B] = await Promise.all([startInstance('A', { ...config, observeChannels: ['room'] }), startInstance('B', config)]);

    // SCC carries publishes both ways once a publish on each instance reaches a client on the other.
    const [onA, onB] = await open([{ port: A.port, userId: 'probe-a' }, { port: B.port, userId: 'probe-b' }]);
    const atA = receive<string>(onA, 'probe');
    const atB = receive<string>(onB, 'probe');
    await Promise.all([atA.ready(), atB.ready()]);
    for (const [from, to] of [[onA, atB], [onB, atA]] as const) {
      await eventually(async () => {
        await from.transmitPublish('probe', 'hello');
        await sleep(100);
        expect(to.values()).toContain('hello');
      }, 20_000, 0);
    }
  }, 120_000);

  afterAll(async () => {
    closeSockets(sockets);
    await killAllStarted();
    await db.dropTables(table).catch(() => undefined);
    await db.close();
  }, 30_000);

  it('a watcher on A receives exactly one message per transition of a user connected on B', async () => {
    const watcher = await watchOn(A, 'w1', 'u1');
    const [tab] = await open([{ port: B.port, userId: 'u1' }]);
    await eventually(() => expect(watcher.transitions()).toEqual(['offline>online']), 10_000);
    await tab.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(watcher.transitions()).toEqual(['offline>online', 'online>idle']), 10_000);
    closeSockets([tab]);
    const all = ['offline>online', 'online>idle', 'idle>offline'];
    await eventually(() => expect(watcher.transitions()).toEqual(all), 10_000);
    await sleep(SETTLE_MS);
    expect(watcher.transitions()).toEqual(all);
    expect(await statusOf('u1')).toBe('offline');

    // presence.users on A answers about a user of B from the shared table, with the last message's lastSeen.
    const answer = (await watcher.socket.invoke('presence.users', ['u1'])) as Record<string, WatchedUser>;
    expect(answer).toEqual({ u1: { status: 'offline', lastSeen: watcher.values()[2].lastSeen } });
  }, 60_000);

  it('watchers on A and on B each receive one message per transition of a user with tabs on both', async () => {
    const onA = await watchOn(A, 'w2', 'u2');
    const onB = await watchOn(B, 'w3', 'u2');
    const [tabA] = await open([{ port: A.port, userId: 'u2' }]);
    await eventually(() => expect(onB.transitions()).toEqual(['offline>online']), 10_000);
    const [tabB] = await open([{ port: B.port, userId: 'u2' }]); // a second session: no transition
    // Stored before tabA goes idle: otherwise A would rightly see u2 idle for a moment, until B writes tabB.
    await eventually(async () => expect(await db.countRows(table, 'SCP_user_id = ? AND SCP_channel = ?', ['u2', '_SCPRESENCE'])).toBe(2), 10_000);
    await tabA.invoke('presence.setStatus', 'idle'); // the tab on B is still online: no transition
    await eventually(async () => expect(await db.countRows(table, 'SCP_user_id = ? AND SCP_status = ?', ['u2', 'idle'])).toBe(1), 10_000);
    await sleep(SETTLE_MS);
    expect(onA.transitions()).toEqual(['offline>online']);
    await tabB.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(onA.transitions()).toEqual(['offline>online', 'online>idle']), 10_000);
    closeSockets([tabA]); // the idle tab on B stays
    await eventually(async () => expect(await db.countRows(table, 'SCP_user_id = ? AND SCP_instance_id = ?', ['u2', A.id])).toBe(0), 10_000);
    closeSockets([tabB]);
    const all = ['offline>online', 'online>idle', 'idle>offline'];
    await eventually(() => {
      expect(onA.transitions()).toEqual(all);
      expect(onB.transitions()).toEqual(all);
    }, 10_000);
    await sleep(SETTLE_MS);
    expect(onA.transitions()).toEqual(all);
    expect(onB.transitions()).toEqual(all);
    // Both saw the same messages, published once.
    expect(onA.values()).toEqual(onB.values());
  }, 60_000);

  it('channelDiffs$ on A delivers the diffs of a room committed on B, once each', async () => {
    const diffsOnA = () => A.process.lines.filter((l) => l.kind === 'diff').map((l) => l.diff as ChannelDiff);
    const [member] = await open([{ port: B.port, userId: 'r1' }]);
    member.subscribe('room');
    await eventually(() => expect(diffsOnA().flatMap((d) => d.joins.map((m) => m.userId))).toEqual(['r1']), 10_000);
    member.unsubscribe('room');
    await eventually(() => expect(diffsOnA().flatMap((d) => d.leaves.map((m) => m.userId))).toEqual(['r1']), 10_000);
    await sleep(SETTLE_MS);
    expect(diffsOnA().map((d) => d.seq)).toEqual([1, 2]);
    expect(diffsOnA().every((d) => d.channel === 'room')).toBe(true);
  }, 60_000);

  it('the last publishes of a graceful shutdown on B reach A: a room leave and a watched user going idle', async () => {
    const diffsOnA = () => A.process.lines.filter((l) => l.kind === 'diff').map((l) => l.diff as ChannelDiff);
    const watcher = await watchOn(A, 'w4', 'u4');
    const [idleTab] = await open([{ port: A.port, userId: 'u4' }]);
    await idleTab.invoke('presence.setStatus', 'idle');
    const [onlineTab, member] = await open([{ port: B.port, userId: 'u4' }, { port: B.port, userId: 'r2' }]);
    member.subscribe('room');
    await eventually(() => expect(diffsOnA().flatMap((d) => d.joins.map((m) => m.userId))).toContain('r2'), 10_000);
    await eventually(async () => expect(await statusOf('u4')).toBe('online'), 10_000);
    await sleep(SETTLE_MS);
    const before = { transitions: watcher.transitions(), diffs: diffsOnA().length };
    expect(before.transitions.at(-1)).toBe('idle>online'); // after offline>idle, or offline>online>idle: one flush or two

    // B removes its rows on SIGTERM: u4 is left with the idle tab on A, r2 leaves the room; B commits both.
    await B.process.kill('SIGTERM');
    closeSockets([onlineTab, member]);
    await eventually(() => expect(watcher.transitions()).toEqual([...before.transitions, 'online>idle']), 10_000);
    await eventually(() => expect(diffsOnA().slice(before.diffs).flatMap((d) => d.leaves.map((m) => m.userId))).toEqual(['r2']), 10_000);
    await sleep(SETTLE_MS);
    expect(watcher.transitions()).toEqual([...before.transitions, 'online>idle']);
    expect(await statusOf('u4')).toBe('idle');
  }, 60_000);
});
