/**
 * A corpus of odd inputs a client controls (channel names, user ids, statuses, payload sizes, Unicode with
 * lone surrogates, NUL, direction marks, emoji, the 255 / 256 edges), thrown at one app per backend. For each:
 * no crash, a clear refusal where it is refused, the table exactly what was accepted, the counts right, and
 * afterwards a heartbeat that does nothing but beat.
 */
import { describe, expect, it } from 'vitest';
import type { Logger as OrmLogger } from 'typeorm';
import type { AGClientSocket } from 'socketcluster-client';
import { BACKENDS, databaseOptions, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { connectClient, subscribe } from '../support/clients.js';
import { HookRecorder } from '../support/hook-recorder.js';

/** Every statement the module sends, as text. */
class RecordingLogger implements OrmLogger {
  readonly queries: string[] = [];
  logQuery(query: string): void {
    this.queries.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

const EMOJI = '😀'; // two UTF-16 code units
const isWellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** Channel names with the answer the module must give. */
const CHANNELS: string[] = [
  'a', ' ', '  ', '\t', 'room', 'Room', 'room ', ' room',
  'a'.repeat(255), 'a'.repeat(256), 'a'.repeat(10_000),
  `${EMOJI.repeat(127)}x`, EMOJI.repeat(128), '字'.repeat(255), '字'.repeat(256),
  EMOJI, '👩🏽‍💻', '🏳️‍🌈', '\ufe0f', 'e\u0301', 'Z\u0351\u0352\u0353',
  'nul\u0000in', '\u0000', '\u0000\u0000', 'end\u0000',
  '\u200fRTL mark', '\u202eevil.exe', '\u200e\u200f', 'עברית', 'مرحبا', '\ufeffbom', '\u200b',
  '\u0001\u0002\u007f', '\r\n', '\\', "'", '"', '`', '%', '_', '?', '*',
  'room:\ud800', 'room:\ud801', 'room:\udc00', '\udc00\ud800', `half${EMOJI[0]}`, `${EMOJI[1]}half`, '\ud800',
  '_SCPRESENCE', '_SCPRESENCE ', '_scpresence',
];

const channelAccepted = (channel: string) =>
  channel.length >= 1 && channel.length <= 255 && isWellFormed(channel) && channel !== '_SCPRESENCE';

/** User ids as a token may carry them, and what the module must store for each (null: anonymous). */
const USER_IDS: Array<[unknown, string | null]> = [
  ['plain', 'plain'], ['u'.repeat(255), 'u'.repeat(255)], ['u'.repeat(256), null], [`${EMOJI.repeat(127)}x`, `${EMOJI.repeat(127)}x`],
  [EMOJI.repeat(128), null], ['nul\u0000id', 'nul\u0000id'], ['\u0000', '\u0000'], ['\u202eevil', '\u202eevil'],
  ['\u200fadmin', '\u200fadmin'], ['admin', 'admin'], [' ', ' '], ['Ω', 'Ω'], [7, '7'], ['7', '7'], [-0, '0'], [1e21, '1e+21'],
  ['', null], ['x\ud800', null], ['x\ud801', null], ['\udc00', null], [`a${EMOJI[0]}`, null], [{ id: 1 }, null], [[1], null], [true, null],
];

/** Status values a client may send, and whether they are accepted. */
const STATUSES: Array<[unknown, boolean]> = [
  ['idle', true], ['online', true], ['idle\u0000', false], ['IDLE', false], ['ıdle', false], ['idle\ud800', false],
  ['\u202eidle', false], ['online ', false], ['', false], [null, false], [0, false], [['idle'], false], ['i'.repeat(100_000), false],
];

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'accepted',
    (error: Error) => error.name,
  );

describe.each(BACKENDS)('a fuzz corpus of client inputs (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;
  let logger: RecordingLogger;

  async function start() {
    logger = new RecordingLogger();
    ctx = await bed.start(
      {
        database: { ...databaseOptions(backend), logger } as never,
        channelPresence: { channels: () => true },
        socketcluster: { pingInterval: 100 },
        heartbeat: { pingsPerUpdate: 1 },
        gc: { enabled: false },
      },
      { providers: [HookRecorder] },
    );
  }

  const connect = async (token?: Record<string, unknown>) => bed.track(await connectClient(ctx.port, ctx.server, token ? { token } : {}));
  const column = async (socket: AGClientSocket, name: 'SCP_channel' | 'SCP_user_id') =>
    (await ctx.sql<Record<string, string | null>>(`SELECT ${name} AS v FROM ${ctx.table} WHERE SCP_socket_id = ?`, [socket.id])).map((r) => r.v);

  /** After the inputs: a few heartbeats that send nothing but their two statements each. */
  async function expectQuietHeartbeats() {
    const from = logger.queries.length;
    await sleep(700);
    const beats = logger.queries.slice(from);
    const heartbeats = beats.filter((q) => /UPDATE .* SET SCP_updated = \?/.test(q)).length;
    expect(heartbeats).toBeGreaterThanOrEqual(3);
    // Counts read for the user count are fine; a reconcile (its SELECT of the instance's rows, upserts, deletes)
    // is not, nor is a part's edge: a few rows are refreshed whole, even by a beat that starts during a flush.
    expect(beats.filter((q) => !/SCP_heartbeat|SET SCP_updated = \?|^SELECT COUNT/s.test(q))).toEqual([]);
  }

  it('odd channel names: refused with a PresenceError or stored exactly, counts right', async () => {
    await start();
    const socket = await connect({ user_id: 'fuzz' });
    const answers = await Promise.all(CHANNELS.map((channel) => outcome(subscribe(socket, channel))));
    CHANNELS.forEach((channel, i) => {
      expect(answers[i], JSON.stringify(channel).slice(0, 60)).toBe(channelAccepted(channel) ? 'accepted' : 'PresenceError');
    });
    // Not a string at all: SocketCluster itself refuses it.
    for (const channel of [42, null, { a: 1 }, ['x']]) {
      expect(await outcome(socket.invoke('#subscribe', { channel }))).not.toBe('accepted');
    }
    const accepted = CHANNELS.filter(channelAccepted);
    await eventually(async () => expect(await ctx.presence.count('subscriptions')).toBe(accepted.length));
    const stored = (await column(socket, 'SCP_channel')) as string[];
    expect([...stored].sort()).toEqual(['_SCPRESENCE', ...accepted].sort());
    for (const channel of accepted) expect(await ctx.presence.count('sockets', channel), JSON.stringify(channel)).toBe(1);

    // The members and presence of each accepted channel can be asked for; the others are refused.
    for (const channel of CHANNELS) {
      const members = await outcome(socket.invoke('presence.members', channel));
      expect(members, JSON.stringify(channel).slice(0, 60)).toBe(channelAccepted(channel) ? 'accepted' : 'PresenceError');
    }
    // Unsubscribing from all of them leaves exactly the presence row.
    for (const channel of accepted) socket.unsubscribe(channel);
    await eventually(async () => expect(await column(socket, 'SCP_channel')).toEqual(['_SCPRESENCE']));
    expect(socket.state).toBe(socket.OPEN);
    await expectQuietHeartbeats();
  });

  it('odd user ids: tracked exactly or as anonymous, one online hook per real user, counts right', async () => {
    await start();
    const hooks = ctx.app.get(HookRecorder);
    const sockets = await Promise.all(USER_IDS.map(([userId]) => connect({ user_id: userId })));
    await Promise.all(sockets.map((socket) => subscribe(socket, 'room:fuzz')));
    const users = new Set(USER_IDS.map(([, stored]) => stored).filter((id): id is string => id !== null));
    const anonymous = USER_IDS.filter(([, stored]) => stored === null).length;

    await eventually(async () => expect(await ctx.presence.count('subscriptions')).toBe(sockets.length));
    for (const [i, socket] of sockets.entries()) {
      expect(await column(socket, 'SCP_user_id'), JSON.stringify(USER_IDS[i][0])?.slice(0, 40)).toEqual([USER_IDS[i][1], USER_IDS[i][1]]);
    }
    expect(await ctx.presence.count('users')).toBe(users.size + anonymous);
    expect(await ctx.presence.count('users', 'room:fuzz')).toBe(users.size + anonymous);
    const statuses = await ctx.presence.getUserStatuses([...users]);
    expect(Object.values(statuses).every((s) => s === 'online')).toBe(true);
    await eventually(() => expect(hooks.userLines().filter((l) => l.startsWith('user.online:')).length).toBe(users.size));
    const onlineIds = hooks.events.flatMap((e) => (e.type === 'user.online' ? [e.userId] : []));
    expect(new Set(onlineIds)).toEqual(users);
    for (const socket of sockets) expect(socket.state).toBe(socket.OPEN);
    await expectQuietHeartbeats();
  });

  it('odd statuses and payload sizes: clear refusals, nothing changed, the server still serves', async () => {
    await start();
    const socket = await connect({ user_id: 'status' });
    await eventually(async () => expect(await column(socket, 'SCP_user_id')).toEqual(['status']));
    for (const [value, ok] of STATUSES) {
      expect(await outcome(socket.invoke('presence.setStatus', value)), JSON.stringify(value)?.slice(0, 40)).toBe(ok ? 'accepted' : 'PresenceError');
    }
    // The last accepted value (changes within limits.statusIntervalMs are stored at its end).
    await eventually(async () => expect(await ctx.presence.getUserStatus('status')).toBe('online'));
    // Payloads of every size on an ordinary channel go through; huge names are refused, not stored.
    for (const size of [0, 1, 1024, 100_000, 1_000_000]) {
      expect(await outcome(socket.invokePublish('room:payload', 'p'.repeat(size)))).toBe('accepted');
    }
    expect(await outcome(subscribe(socket, 'c'.repeat(1_000_000)))).toBe('PresenceError');
    expect(await outcome(socket.invoke('presence.members', 'c'.repeat(1_000_000)))).toBe('PresenceError');
    expect(await outcome(socket.invoke('presence.setStatus', { status: 'idle', pad: 'p'.repeat(1_000_000) }))).toBe('PresenceError');
    expect(await column(socket, 'SCP_channel')).toEqual(['_SCPRESENCE']);
    expect(socket.state).toBe(socket.OPEN);
    const late = await connect({ user_id: 'late' });
    await eventually(async () => expect(await column(late, 'SCP_user_id')).toEqual(['late']));
  });
});
