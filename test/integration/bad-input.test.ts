import { describe, expect, it } from 'vitest';
import { PresenceError } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, type PresenceApp } from '../support/presence-app.js';
import { connectClient, signRaw, subscribe } from '../support/clients.js';

interface Row {
  SCP_socket_id: string;
  SCP_user_id: string | null;
  SCP_channel: string;
  SCP_authToken: string | null;
  SCP_origin: string | null;
}

/** Runs a service call so that a synchronous throw and a rejection are both seen as a rejection. */
const settle = <T>(call: () => Promise<T>): Promise<T> => (async () => call())();

describe.each(BACKENDS)('client-reachable and service inputs (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  const rowsOf = (socketId: string) =>
    ctx!.sql<Row>(`SELECT * FROM ${ctx!.table} WHERE SCP_socket_id = ?`, [socketId]);
  const channelsOf = async (socketId: string) => (await rowsOf(socketId)).map((r) => r.SCP_channel).sort();
  const allRows = () => ctx!.sql<Row>(`SELECT * FROM ${ctx!.table}`);

  async function connect(options: Parameters<typeof connectClient>[2] = {}) {
    const socket = await connectClient(ctx!.port, ctx!.server, options);
    bed.track(socket);
    return socket;
  }

  it('refuses channels longer than 255 characters with a PresenceError and stores nothing for them', async () => {
    ctx = await bed.start();
    const socket = await connect({ token: { user_id: 'long' } });
    for (const channel of ['c'.repeat(256), 'x'.repeat(5000), '漢'.repeat(256)]) {
      const error = await subscribe(socket, channel).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error, `subscribing to a channel of ${channel.length} characters`).toBeDefined();
      expect(error!.name).toBe('PresenceError');
      expect(error!.message).toMatch(/255/);
    }
    // A subscription made after the refused ones: once it is stored, anything the refused ones wrote would be too.
    await subscribe(socket, 'after');
    await eventually(async () => expect(await channelsOf(socket.id!)).toEqual(['_SCPRESENCE', 'after']));
    const rows = await allRows();
    expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'after']);
    expect(socket.state).toBe(socket.OPEN);
  });

  it('stores a 255-character channel exactly, without truncation', async () => {
    ctx = await bed.start();
    const socket = await connect();
    const ascii = `${'a'.repeat(254)}Z`;
    const cjk = `${'字'.repeat(254)}尾`;
    await subscribe(socket, ascii);
    await subscribe(socket, cjk);
    await eventually(async () => expect(await channelsOf(socket.id!)).toEqual(['_SCPRESENCE', ascii, cjk].sort()));
    const [row] = await ctx.sql<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM ${ctx.table} WHERE SCP_channel = ? OR SCP_channel = ?`,
      [ascii, cjk],
    );
    expect(Number(row.n)).toBe(2);
    expect(await ctx.presence.count('sockets', ascii)).toBe(1);
    expect((await ctx.presence.getChannelMembers(cjk)).map((m) => m.socketId)).toEqual([socket.id]);
  });

  it('refuses a subscription to the presence channel', async () => {
    ctx = await bed.start();
    const socket = await connect({ token: { user_id: 'sneaky' } });
    await expect(subscribe(socket, '_SCPRESENCE')).rejects.toMatchObject({ name: 'PresenceError' });
    await subscribe(socket, 'after');
    await eventually(async () => expect(await channelsOf(socket.id!)).toEqual(['_SCPRESENCE', 'after']));
    // Still exactly one presence row for the socket.
    const presenceRows = (await rowsOf(socket.id!)).filter((r) => r.SCP_channel === '_SCPRESENCE');
    expect(presenceRows).toHaveLength(1);
    await expect(settle(() => ctx!.presence.getChannelMembers('_SCPRESENCE'))).rejects.toBeInstanceOf(PresenceError);
  });

  it('stores unicode, SQL metacharacters and near-identical names as separate exact rows', async () => {
    ctx = await bed.start();
    const socket = await connect();
    const channels = [
      // unicode
      '🎉 party 🎉',
      '👨‍👩‍👧‍👦',
      '聊天室',
      'チャット',
      'café', // precomposed é
      'cafe\u0301', // e + combining acute accent
      'Z\u0351\u0352\u0353alg\u0300o',
      'עברית',
      // SQL metacharacters
      "'; DROP TABLE x; --",
      `'; DROP TABLE ${ctx.table}; --`,
      'back\\slash',
      'double\\\\back\\',
      "it's",
      'say "hi"',
      '`backtick`',
      '100%',
      '%',
      'a_b',
      '_',
      '?',
      'line\nbreak\ttab',
      // differ only in case or trailing space
      'Room',
      'room',
      'room ',
    ];
    for (const channel of channels) await subscribe(socket, channel);
    const expected = ['_SCPRESENCE', ...channels].sort();
    await eventually(async () => expect(await channelsOf(socket.id!)).toEqual(expected));

    for (const channel of channels) {
      const [row] = await ctx.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${ctx.table} WHERE SCP_channel = ?`, [channel]);
      expect(Number(row.n), `rows for ${JSON.stringify(channel)}`).toBe(1);
      expect(await ctx.presence.count('sockets', channel), `count for ${JSON.stringify(channel)}`).toBe(1);
      const members = await ctx.presence.getChannelMembers(channel);
      expect(members.map((m) => m.socketId)).toEqual([socket.id]);
    }
    const [session] = await ctx.presence.getChannelMembers('Room');
    expect([...session.channels].sort()).toEqual([...channels].sort());

    // Leaving one of the look-alikes removes only that row.
    socket.unsubscribe('room ');
    await eventually(async () => expect(await channelsOf(socket.id!)).toEqual(expected.filter((c) => c !== 'room ')));
    expect(await ctx.presence.count('sockets', 'room')).toBe(1);
    expect(await ctx.presence.count('sockets', 'Room')).toBe(1);
  });

  it('tracks sockets whose user id is not a usable id as anonymous, and loses nothing for the others', async () => {
    ctx = await bed.start();
    const bad: Array<[string, unknown]> = [
      ['object', { id: 7, name: 'obj' }],
      ['array', ['a', 'b']],
      ['boolean', true],
      ['10 KB string', 'u'.repeat(10 * 1024)],
    ];
    // Everybody connects at once: the bad tokens and the good ones land in the same batches.
    const [badSockets, goodSockets] = await Promise.all([
      Promise.all(bad.map(([kind, userId]) => connect({ token: { user_id: userId, kind } }))),
      Promise.all(['good-1', 'good-2', 'good-3'].map((userId) => connect({ token: { user_id: userId } }))),
    ]);
    const numeric = await connect({ token: { user_id: 42 } });
    await Promise.all([...badSockets, ...goodSockets, numeric].map((s) => subscribe(s, 'shared')));

    await eventually(async () => expect(await ctx!.presence.count('subscriptions')).toBe(8));
    for (const [i, socket] of badSockets.entries()) {
      const rows = await rowsOf(socket.id!);
      expect(rows.map((r) => r.SCP_channel).sort(), bad[i][0]).toEqual(['_SCPRESENCE', 'shared']);
      expect(rows.map((r) => r.SCP_user_id), bad[i][0]).toEqual([null, null]);
      expect(socket.state, bad[i][0]).toBe(socket.OPEN);
    }
    for (const [i, socket] of goodSockets.entries()) {
      const rows = await rowsOf(socket.id!);
      expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'shared']);
      expect(rows.map((r) => r.SCP_user_id)).toEqual([`good-${i + 1}`, `good-${i + 1}`]);
    }
    const numericRows = await rowsOf(numeric.id!);
    expect(numericRows.map((r) => r.SCP_user_id)).toEqual(['42', '42']);
    expect(typeof numericRows[0].SCP_user_id).toBe('string');

    // Four anonymous sockets count as four users, plus good-1..3 and 42.
    expect(await ctx.presence.count('users')).toBe(8);
    expect(await ctx.presence.getUserStatus('42')).toBe('online');
    expect((await ctx.presence.getUserSessions('good-2')).map((s) => s.socketId)).toEqual([goodSockets[1].id]);

    // The app still serves and stores new sockets afterwards.
    const late = await connect({ token: { user_id: 'late' } });
    await eventually(async () => expect((await rowsOf(late.id!)).map((r) => r.SCP_user_id)).toEqual(['late']));
  });

  it('tracks sockets with a forged, expired or malformed token as anonymous', async () => {
    ctx = await bed.start();
    const server = ctx.server;
    const { expiresIn: _expiresIn, ...signOptions } = (server.defaultSignatureOptions ?? {}) as Record<string, unknown>;
    const tokens = {
      forged: await signRaw(server, { user_id: 'mallory' }, 'not-the-server-key', signOptions),
      expired: await signRaw(server, { user_id: 'late-larry', exp: Math.floor(Date.now() / 1000) - 60 }, server.signatureKey as string, signOptions),
      malformed: 'not.a.jwt',
    };
    const bad = await Promise.all(Object.values(tokens).map((token) => connectClient(ctx!.port, ctx!.server, { signedToken: token })));
    bad.forEach((socket) => bed.track(socket));
    const good = await connect({ token: { user_id: 'honest' } });
    await Promise.all([...bad, good].map((socket) => subscribe(socket, 'room')));

    await eventually(async () => expect(await ctx!.presence.count('subscriptions')).toBe(4));
    for (const socket of bad) {
      const rows = await rowsOf(socket.id!);
      expect(rows.map((r) => r.SCP_user_id)).toEqual([null, null]);
      expect(rows.map((r) => r.SCP_authToken)).toEqual([null, null]);
    }
    expect((await rowsOf(good.id!)).map((r) => r.SCP_user_id)).toEqual(['honest', 'honest']);
    expect(await ctx.presence.getUserStatuses(['mallory', 'late-larry'])).toEqual({ mallory: 'offline', 'late-larry': 'offline' });
  });

  it("refuses presence.setStatus values other than 'online' and 'idle' with a PresenceError", async () => {
    ctx = await bed.start();
    const socket = await connect({ token: { user_id: 'setter' } });
    await eventually(async () => expect(await rowsOf(socket.id!)).toHaveLength(1));
    const statusOf = async () =>
      (await ctx!.sql<{ SCP_status: string }>(`SELECT SCP_status FROM ${ctx!.table} WHERE SCP_socket_id = ?`, [socket.id]))[0].SCP_status;

    for (const value of ['away', 'IDLE', 'idle ', '', 42, null, true, { status: 'idle' }, ['idle'], 'x'.repeat(10_000)]) {
      const error = await socket.invoke('presence.setStatus', value).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error, `presence.setStatus(${JSON.stringify(value)?.slice(0, 40)})`).toBeDefined();
      expect(error!.name).toBe('PresenceError');
    }
    expect(await statusOf()).toBe('online');
    expect(socket.state).toBe(socket.OPEN);

    // A valid value still works after all that.
    await socket.invoke('presence.setStatus', 'idle');
    expect(await statusOf()).toBe('idle');
    expect(await ctx.presence.getUserStatus('setter')).toBe('idle');
  });

  it('stores a token payload larger than 16000 characters of JSON as NULL but keeps the user id', async () => {
    ctx = await bed.start();
    const big = await connect({ token: { user_id: 'big', pad: 'p'.repeat(16_100) } });
    const small = await connect({ token: { user_id: 'small', pad: 'p'.repeat(15_000) } });
    await subscribe(big, 'room');
    await eventually(async () => expect(await channelsOf(big.id!)).toEqual(['_SCPRESENCE', 'room']));
    await eventually(async () => expect(await rowsOf(small.id!)).toHaveLength(1));
    for (const row of await rowsOf(big.id!)) {
      expect(row.SCP_user_id).toBe('big');
      expect(row.SCP_authToken).toBeNull();
    }
    const [smallRow] = await rowsOf(small.id!);
    expect(smallRow.SCP_user_id).toBe('small');
    expect(JSON.parse(smallRow.SCP_authToken!)).toMatchObject({ user_id: 'small', pad: 'p'.repeat(15_000) });
  });

  it('cuts a very long Origin header to 1024 characters', async () => {
    ctx = await bed.start();
    const origin = `http://${'o'.repeat(4993)}`;
    expect(origin).toHaveLength(5000);
    const socket = await connect({ origin });
    await subscribe(socket, 'room');
    await eventually(async () => expect(await channelsOf(socket.id!)).toEqual(['_SCPRESENCE', 'room']));
    for (const row of await rowsOf(socket.id!)) expect(row.SCP_origin).toBe(origin.slice(0, 1024));
    const [session] = await ctx.presence.getChannelMembers('room');
    expect(session.origin).toBe(origin.slice(0, 1024));
  });

  it('rejects bad service arguments with a PresenceError', async () => {
    ctx = await bed.start();
    const socket = await connect({ token: { user_id: 'svc' } });
    await eventually(async () => expect(await rowsOf(socket.id!)).toHaveLength(1));
    const presence = ctx.presence;

    await expect(settle(() => presence.getUserSessions(42 as unknown as string))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.getUserSessions(''))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.getUserSessions('u'.repeat(300)))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.getUserStatus({} as unknown as string))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.getUserStatuses('svc' as unknown as string[]))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.count('bogus' as never))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.count('sockets', 'c'.repeat(256)))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.getChannelMembers(''))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.setSessionStatus(socket.id!, 'away' as never))).rejects.toBeInstanceOf(PresenceError);
    await expect(settle(() => presence.setSessionStatus('no-such-socket', 'idle'))).rejects.toBeInstanceOf(PresenceError);

    // None of that changed the stored session.
    const [session] = await presence.getUserSessions('svc');
    expect(session).toMatchObject({ socketId: socket.id, status: 'online' });
    // Valid arguments still work: a 255-character user id is allowed (and simply has no sessions).
    expect(await presence.getUserSessions('u'.repeat(255))).toEqual([]);
  });
});
