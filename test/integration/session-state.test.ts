/**
 * Session state (`presence.setState`, `PresenceService.setSessionState`) with real sockets: stored on the
 * presence row only, returned in PresenceSession.state, carried by channel members and diffs, refused without
 * a trace when it is not a small plain JSON object, and written at most once per interval however fast a
 * client sets it.
 */
import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { DataSource } from 'typeorm';
import { presenceMigrations, type PresenceModuleOptions } from '../../src/index.js';
import {
  BACKENDS, databaseOptions, dropTables, eventually, presenceTestBed, sleep, uniqueTable, type Backend, type PresenceApp,
} from '../support/presence-app.js';
import { subscribe } from '../support/clients.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import type { Member, ChannelDiff as Diff, ChannelSnapshot as Snapshot } from '../../src/index.js';

type State = Record<string, unknown>;

const PRESENCE = '_SCPRESENCE';

/** The error a promise rejects with; fails if it resolves. */
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('resolved, expected a refusal');
    },
    (error: Error) => error,
  );

/** A client's view of a room: the snapshot, then every diff after it in seq order. */
function roomView(snapshot: Snapshot, diffs: Diff[]): Map<string, Member> {
  const members = new Map(snapshot.members.map((m) => [m.userId, m]));
  for (const diff of diffs.filter((d) => d.seq > snapshot.seq).sort((a, b) => a.seq - b.seq)) {
    for (const m of diff.leaves) members.delete(m.userId);
    for (const m of [...diff.joins, ...diff.updates]) members.set(m.userId, m);
  }
  return members;
}

describe.each(BACKENDS)('session state (%s)', (backend: Backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;
  let sql: SqlStatementCounter;

  async function start(extra: PresenceModuleOptions = {}) {
    sql = new SqlStatementCounter();
    ctx = await bed.start({ database: { ...databaseOptions(backend), logger: sql } as PresenceModuleOptions['database'], ...extra });
  }

  const client = (userId?: string) => bed.connect(userId ? { token: { user_id: userId } } : {});

  /** SCP_state of each of a socket's rows, by channel. */
  async function stored(socket: AGClientSocket): Promise<Record<string, string | null>> {
    const rows = await ctx.sql<{ SCP_channel: string; SCP_state: string | null }>(
      `SELECT SCP_channel, SCP_state FROM ${ctx.table} WHERE SCP_socket_id = ?`,
      [socket.id],
    );
    return Object.fromEntries(rows.map((r) => [r.SCP_channel, r.SCP_state]));
  }

  it('stores a state on the presence row only, returns it with the session, and clears it with null', async () => {
    await start({ channelPresence: { channels: /^room:/ }, limits: { statusIntervalMs: 0 } });
    const ann = await client('ann');
    await subscribe(ann, 'room:1');
    await subscribe(ann, 'lobby');
    await eventually(async () => expect(Object.keys(await stored(ann)).sort()).toEqual([PRESENCE, 'lobby', 'room:1']));
    expect(await stored(ann)).toEqual({ [PRESENCE]: null, 'room:1': null, lobby: null });
    const [before] = await ctx.presence.getUserSessions('ann');
    expect(before.state).toBeNull();

    // Resolves once stored: the next read sees it, without waiting.
    await ann.invoke('presence.setState', { typing: true, device: { kind: 'phone', os: 'ios' }, tags: ['a', 1, null] });
    const state = { typing: true, device: { kind: 'phone', os: 'ios' }, tags: ['a', 1, null] };
    expect(await stored(ann)).toEqual({ [PRESENCE]: JSON.stringify({ device: { kind: 'phone', os: 'ios' }, tags: ['a', 1, null], typing: true }), 'room:1': null, lobby: null });
    const [session] = await ctx.presence.getUserSessions('ann');
    expect(session).toMatchObject({ socketId: ann.id, userId: 'ann', state });
    expect((await ctx.presence.getChannelMembers('room:1'))[0].state).toEqual(state);
    // Old SQL that reads the table still works.
    const plain = await ctx.sql<Record<string, unknown>>(`SELECT * FROM ${ctx.table} WHERE SCP_socket_id = ? AND SCP_channel = ?`, [ann.id, PRESENCE]);
    expect(plain[0]).toMatchObject({ SCP_user_id: 'ann', SCP_status: 'online' });

    // A status change keeps the state.
    await ann.invoke('presence.setStatus', 'idle');
    expect((await ctx.presence.getUserSessions('ann'))[0]).toMatchObject({ status: 'idle', state });

    await ann.invoke('presence.setState', null);
    expect(await stored(ann)).toEqual({ [PRESENCE]: null, 'room:1': null, lobby: null });
    expect((await ctx.presence.getUserSessions('ann'))[0].state).toBeNull();

    // The server sets it the same way, for a socket of this instance.
    await ctx.presence.setSessionState(ann.id!, { inCall: 'c-42' });
    expect((await ctx.presence.getUserSessions('ann'))[0].state).toEqual({ inCall: 'c-42' });
  });

  it('refuses what is not a small plain JSON object, and anonymous sockets, changing nothing', async () => {
    await start({ sessionState: { maxBytes: 64 } });
    const ann = await client('ann');
    await ann.invoke('presence.setState', { ok: 1 });
    const anonymous = await client();
    await eventually(async () => expect(await stored(anonymous)).toEqual({ [PRESENCE]: null }));
    await sleep(100); // the user count's read after the connect
    const statementsBefore = sql.total;
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const bad: unknown[] = [[], [{ a: 1 }], 'typing', 42, true, { big: 'x'.repeat(60) }, { deep }, 'x'.repeat(100_000)];
    for (const value of bad) {
      const error = await refusal(ann.invoke('presence.setState', value));
      expect(error.name).toBe('PresenceError');
      expect(error.message).toMatch(/^state /);
    }
    expect((await refusal(ann.invoke('presence.setState', { big: 'x'.repeat(60) }))).message).toMatch(/larger than 64 bytes/);
    // What a client cannot send, the server can pass: it is refused all the same.
    const cyclic: State = {};
    cyclic.self = cyclic;
    for (const value of [{ f: () => 1 }, { u: undefined }, { n: NaN }, { d: new Date() }, cyclic, new Map(), undefined]) {
      const error = await refusal(ctx.presence.setSessionState(ann.id!, value as State));
      expect(error.name).toBe('PresenceError');
    }
    const stranger = await refusal(ctx.presence.setSessionState('no-such-socket', { a: 1 }));
    expect(stranger.message).toMatch(/is not connected to this instance/);

    const refused = await refusal(anonymous.invoke('presence.setState', { a: 1 }));
    expect(refused.name).toBe('PresenceError');
    expect(refused.message).toMatch(/anonymous socket has no session state/);
    expect((await refusal(ctx.presence.setSessionState(anonymous.id!, { a: 1 }))).message).toMatch(/anonymous/);

    await sleep(50);
    expect(sql.total).toBe(statementsBefore);
    expect(await stored(ann)).toEqual({ [PRESENCE]: '{"ok":1}' });
    expect(await stored(anonymous)).toEqual({ [PRESENCE]: null });
  });

  it('writes the state of a client typing fast at most once per interval, the last one winning', async () => {
    await start({ limits: { statusIntervalMs: 500 } });
    const ann = await client('ann');
    await subscribe(ann, 'room:1');
    await eventually(async () => expect(Object.keys(await stored(ann))).toHaveLength(2));
    await sleep(100);
    const before = sql.total;
    // A keystroke every 50 ms, each call answered once its turn is stored: about 10 unanswered at a time.
    const calls = 20;
    const answers: Array<Promise<unknown>> = [];
    for (let i = 1; i <= calls; i++) {
      answers.push(ann.invoke('presence.setState', { typed: 'x'.repeat(i) }));
      await sleep(50);
    }
    await Promise.all(answers);
    const spent = sql.total - before;
    console.log(`[session-state] ${calls} setState calls 50 ms apart cost ${spent} statements (${backend})`);
    // One write per 500 ms interval (about 3 over the second it takes), where one per call would be 20.
    expect(spent).toBeLessThanOrEqual(0.3 * calls);
    expect(JSON.parse((await stored(ann))[PRESENCE]!)).toEqual({ typed: 'x'.repeat(calls) });
  });

  it('costs a fraction of a statement per change with channel presence, many sockets typing at once', async () => {
    const sockets = 100;
    const times = 10;
    const spreadMs = 2000;
    await start({ channelPresence: { channels: /^room:/ }, flushIntervalMs: 20 });
    const clients: AGClientSocket[] = [];
    for (let i = 0; i < sockets; i += 10) {
      clients.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => client(`typist${i + j}`)))));
    }
    for (let i = 0; i < sockets; i += 10) await Promise.all(clients.slice(i, i + 10).map((socket, j) => subscribe(socket, `room:${(i + j) % 10}`)));
    await eventually(async () => expect(await ctx.presence.count('subscriptions')).toBe(sockets), 20_000);
    await sleep(300);
    const before = sql.total;
    // Change k of socket i is due at (k + i / sockets) × spreadMs / times: the changes of all sockets spread evenly.
    const t0 = Date.now();
    const answers: Array<Promise<unknown>> = [];
    for (let c = 0; c < sockets * times; c++) {
      const due = t0 + (c / sockets) * (spreadMs / times);
      if (due > Date.now()) await sleep(due - Date.now());
      answers.push(clients[c % sockets].invoke('presence.setState', { typing: true, n: Math.floor(c / sockets) + 1 }));
    }
    await Promise.all(answers);
    const spent = sql.total - before;
    console.log(`[session-state] ${sockets * times} changes of ${sockets} sockets in 10 rooms cost ${spent} statements (${backend})`);
    // Each socket writes about 3 times (once per second), in ~12 flushes of ~10 statements (its socket rows, the
    // users' status locks, the members of their rooms). Per change that falls with more sockets: the flushes do
    // not grow in number, only in rows (the bench's 2,000 sockets). Without the interval it would be ~0.3.
    expect(spent).toBeLessThanOrEqual(0.2 * sockets * times);
    const snapshot = (await clients[0].invoke('presence.members', 'room:0')) as Snapshot;
    expect(snapshot.members).toHaveLength(sockets / 10);
    for (const member of snapshot.members) expect(member.states).toEqual([{ n: times, typing: true }]);
  }, 60_000);

  it('carries the states of each member in snapshots and diffs, as updates, in a fixed order', async () => {
    await start({ channelPresence: { channels: /^room:/ }, limits: { statusIntervalMs: 0 } });
    const ann = await client('ann');
    await subscribe(ann, 'room:1');
    const diffs: Diff[] = [];
    const channel = await subscribe(ann, 'presence:room:1');
    void (async () => {
      for await (const diff of channel) diffs.push(diff as Diff);
    })();
    const bob1 = await client('bob');
    const bob2 = await client('bob');
    await subscribe(bob1, 'room:1');
    await subscribe(bob1, 'room:2');
    await subscribe(bob2, 'room:1');
    const loner = await client('cid'); // in no room with presence
    await eventually(() => expect(diffs.flatMap((d) => d.joins)).toContainEqual({ userId: 'bob', status: 'online', states: [] }));
    const first = (await ann.invoke('presence.members', 'room:1')) as Snapshot;
    const updates = () => diffs.filter((d) => d.seq > first.seq).flatMap((d) => d.updates);

    await bob1.invoke('presence.setState', { typing: true });
    await eventually(() => expect(updates()).toEqual([{ userId: 'bob', status: 'online', states: [{ typing: true }] }]));
    await bob2.invoke('presence.setState', { device: 'phone' });
    // Sorted by their JSON, whichever socket set which.
    const both = [{ device: 'phone' }, { typing: true }];
    await eventually(() => expect(updates().at(-1)).toEqual({ userId: 'bob', status: 'online', states: both }));
    const snapshot = (await ann.invoke('presence.members', 'room:1')) as Snapshot;
    expect(snapshot.members).toEqual([
      { userId: 'ann', status: 'online', states: [] },
      { userId: 'bob', status: 'online', states: both },
    ]);
    // Only bob1 is in room:2.
    expect(((await bob1.invoke('presence.members', 'room:2')) as Snapshot).members).toEqual([{ userId: 'bob', status: 'online', states: [{ typing: true }] }]);

    // The same states again, and a state of a socket in no room with presence: no diff.
    const seen = diffs.length;
    await bob2.invoke('presence.setState', { device: 'phone' });
    await bob1.invoke('presence.setState', { typing: true });
    await loner.invoke('presence.setState', { away: true });
    await sleep(150);
    expect(diffs.length).toBe(seen);

    await bob1.invoke('presence.setState', null);
    await eventually(() => expect(updates().at(-1)).toEqual({ userId: 'bob', status: 'online', states: [{ device: 'phone' }] }));
    bob2.disconnect(); // bob stays through bob1, now without states
    await eventually(() => expect(updates().at(-1)).toEqual({ userId: 'bob', status: 'online', states: [] }));
    expect(diffs.flatMap((d) => d.leaves)).toEqual([]);

    // Snapshot plus diffs give what the service says.
    const last = (await ann.invoke('presence.members', 'room:1')) as Snapshot;
    expect(roomView(first, diffs)).toEqual(roomView(last, []));
    const sessions = await ctx.presence.getChannelMembers('room:1');
    expect(sessions.map((s) => [s.userId, s.state]).sort()).toEqual([['ann', null], ['bob', null]]);
  });

  it('drops the state of a socket that logs out, and keeps it from the next user', async () => {
    await start({ channelPresence: { channels: ['room'] } });
    const ann = await client('ann');
    await subscribe(ann, 'room');
    await ann.invoke('presence.setState', { mood: 'fine' });
    const serverSocket = ctx.server.clients[ann.id!];
    await serverSocket.setAuthToken({ user_id: 'bob' });
    await eventually(async () => expect((await ctx.presence.getUserSessions('bob'))[0]?.state).toBeNull());
    expect(((await ann.invoke('presence.members', 'room')) as Snapshot).members).toEqual([{ userId: 'bob', status: 'online', states: [] }]);
    await serverSocket.setAuthToken({ user_id: 'ann' });
    await eventually(async () => expect((await ctx.presence.getUserSessions('ann'))[0]?.state).toBeNull());
  });

  it('is off with sessionState: false', async () => {
    await start({ sessionState: false });
    const ann = await client('ann');
    const error = await refusal(ctx.presence.setSessionState(ann.id!, { a: 1 }));
    expect(error.name).toBe('PresenceError');
    expect(error.message).toMatch(/turned off/);
    // The client's call is answered at once with the same refusal, not left to its ack timeout.
    const invoked = await refusal(ann.invoke('presence.setState', { a: 1 }));
    expect(invoked.name).toBe('PresenceError');
    expect(invoked.message).toMatch(/turned off/);
  });

  it('answers the calls of a feature that is off at once, with the option that turns it on', async () => {
    await start({ sessionState: false, channelPresence: false, userPresence: false });
    const ann = await client('ann');
    expect((await refusal(ann.invoke('presence.members', 'room'))).message).toMatch(/channelPresence option/);
    expect((await refusal(ann.invoke('presence.users', ['bob']))).message).toMatch(/userPresence option/);
  });

  it('adds its columns to tables made before it, nullable, so rows written before read as no state', async () => {
    const ds = new DataSource({ ...databaseOptions(backend) } as never);
    await ds.initialize();
    const table = uniqueTable('sst');
    const runner = ds.createQueryRunner();
    try {
      const earlier = presenceMigrations.filter((Migration) => Migration.name !== 'PresenceSessionState1733140800000');
      for (const Migration of earlier) await new Migration(table).up(runner);
      await runner.query(`INSERT INTO ${table} (SCP_socket_id, SCP_user_id, SCP_channel, SCP_instance_id) VALUES ('s1', 'ann', '${PRESENCE}', 'i1')`);
      await runner.query(`INSERT INTO ${table}_members (SCP_channel, SCP_user_id, SCP_status) VALUES ('room', 'ann', 'online')`);
      for (const Migration of [...presenceMigrations, ...presenceMigrations]) await new Migration(table).up(runner); // twice: idempotent
      expect(await runner.query(`SELECT SCP_state FROM ${table}`)).toEqual([{ SCP_state: null }]);
      expect(await runner.query(`SELECT SCP_states FROM ${table}_members`)).toEqual([{ SCP_states: null }]);
      // What it adds goes again with its down(); the rows stay.
      const migration = presenceMigrations.find((Migration) => Migration.name === 'PresenceSessionState1733140800000')!;
      await new migration(table).down(runner);
      await expect(runner.query(`SELECT SCP_state FROM ${table}`)).rejects.toThrow();
      expect(await runner.query(`SELECT SCP_user_id FROM ${table}`)).toEqual([{ SCP_user_id: 'ann' }]);
    } finally {
      await runner.release();
      await ds.destroy();
      if (backend === 'mariadb') await dropTables(table);
    }
  });
});
