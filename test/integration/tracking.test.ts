import { describe, expect, it } from 'vitest';
import { BACKENDS, eventually, presenceTestBed, type PresenceApp } from '../support/presence-app.js';
import { connectClient, signToken, subscribe } from '../support/clients.js';

interface Row {
  SCP_socket_id: string;
  SCP_user_id: string | null;
  SCP_channel: string;
  SCP_authToken: string | null;
  SCP_ip: string | null;
  SCP_origin: string | null;
  SCP_instance_id: string;
}

describe.each(BACKENDS)('tracking sockets and subscriptions (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  const rows = (socketId?: string) =>
    ctx!.sql<Row>(
      `SELECT * FROM ${ctx!.table} ${socketId ? 'WHERE SCP_socket_id = ?' : ''} ORDER BY SCP_channel`,
      socketId ? [socketId] : [],
    );

  it('stores a presence row per socket and a row per subscription, and removes them', async () => {
    ctx = await bed.start();
    const socket = await connectClient(ctx.port, ctx.server, { token: { user_id: 'alice', role: 'admin' }, origin: 'http://example.test' });
    bed.track(socket);
    await subscribe(socket, 'room:1');
    await subscribe(socket, 'room:2');

    const stored = await eventually(async () => {
      const r = await rows(socket.id!);
      expect(r.map((row) => row.SCP_channel)).toEqual(['_SCPRESENCE', 'room:1', 'room:2']);
      return r;
    });
    // The token's JSON is stored once, on the socket's own row; its channel rows hold NULL.
    expect(JSON.parse(stored[0].SCP_authToken!)).toMatchObject({ user_id: 'alice', role: 'admin' });
    expect(stored.slice(1).map((row) => row.SCP_authToken)).toEqual([null, null]);
    for (const row of stored) {
      expect(row.SCP_user_id).toBe('alice');
      expect(row.SCP_ip).toMatch(/127\.0\.0\.1/);
      expect(row.SCP_origin).toBe('http://example.test');
      expect(row.SCP_instance_id).toMatch(/^[0-9a-f-]{36}$/);
    }

    socket.unsubscribe('room:1');
    await eventually(async () => expect((await rows(socket.id!)).map((r) => r.SCP_channel)).toEqual(['_SCPRESENCE', 'room:2']));

    socket.disconnect();
    await eventually(async () => expect(await rows()).toEqual([]));
  });

  it('re-keys every row of a socket when it authenticates, switches user or logs out', async () => {
    ctx = await bed.start();
    const socket = await connectClient(ctx.port, ctx.server);
    bed.track(socket);
    await subscribe(socket, 'lobby');
    await eventually(async () => {
      const r = await rows(socket.id!);
      expect(r).toHaveLength(2);
      expect(r.every((row) => row.SCP_user_id === null)).toBe(true);
    });

    await socket.authenticate(await signToken(ctx.server, { user_id: 42 }));
    await eventually(async () => expect((await rows(socket.id!)).map((r) => r.SCP_user_id)).toEqual(['42', '42']));

    await socket.authenticate(await signToken(ctx.server, { user_id: 'bob' }));
    await eventually(async () => expect((await rows(socket.id!)).map((r) => r.SCP_user_id)).toEqual(['bob', 'bob']));

    // Same user, new token (claims changed): the stored payload follows.
    await socket.authenticate(await signToken(ctx.server, { user_id: 'bob', plan: 'pro' }));
    await eventually(async () => expect((await rows(socket.id!)).map((r) => r.SCP_authToken && JSON.parse(r.SCP_authToken).plan)).toEqual(['pro', null]));

    await socket.deauthenticate();
    await eventually(async () => {
      const r = await rows(socket.id!);
      expect(r.map((row) => row.SCP_user_id)).toEqual([null, null]);
      expect(r.map((row) => row.SCP_authToken)).toEqual([null, null]);
    });
  });

  it('answers the service queries from the table', async () => {
    ctx = await bed.start();
    const a1 = await connectClient(ctx.port, ctx.server, { token: { user_id: 'ann' } });
    const a2 = await connectClient(ctx.port, ctx.server, { token: { user_id: 'ann' } });
    const b = await connectClient(ctx.port, ctx.server, { token: { user_id: 'ben' } });
    const anon = await connectClient(ctx.port, ctx.server);
    [a1, a2, b, anon].forEach((socket) => bed.track(socket));
    await subscribe(a1, 'room');
    await subscribe(b, 'room');
    await subscribe(anon, 'room');
    await subscribe(a2, 'other');

    await eventually(async () => expect(await ctx!.presence.count('subscriptions')).toBe(4));
    expect(await ctx.presence.count('users')).toBe(3); // ann, ben, one anonymous
    expect(await ctx.presence.count('sockets')).toBe(4);
    expect(await ctx.presence.count('users', 'room')).toBe(3);
    expect(await ctx.presence.count('sockets', 'other')).toBe(1);

    const sessions = await ctx.presence.getUserSessions('ann');
    expect(sessions.map((s) => s.socketId).sort()).toEqual([a1.id, a2.id].sort());
    const first = sessions.find((s) => s.socketId === a1.id)!;
    expect(first).toMatchObject({ userId: 'ann', status: 'online', channels: ['room'] });
    expect(first.connectedAt).toBeInstanceOf(Date);
    expect(Math.abs(first.updatedAt.getTime() - Date.now())).toBeLessThan(60_000);

    const members = await ctx.presence.getChannelMembers('room');
    expect(members.map((m) => m.userId).sort()).toEqual(['ann', 'ben', null].sort());
    expect(await ctx.presence.getUserStatuses(['ann', 'nobody'])).toEqual({ ann: 'online', nobody: 'offline' });
  });

  it('refreshes its rows with one heartbeat statement and keeps them through GC', async () => {
    ctx = await bed.start({ socketcluster: { pingInterval: 100, pingTimeout: 2000 }, heartbeat: { pingsPerUpdate: 2 }, gc: { intervalMs: 100, thresholdMs: 600 } });
    const socket = await connectClient(ctx.port, ctx.server, { token: { user_id: 'hb' } });
    bed.track(socket);
    const first = await eventually(async () => {
      const [row] = await ctx!.sql<{ t: string }>(`SELECT SCP_updated AS t FROM ${ctx!.table}`);
      expect(row).toBeDefined();
      return String(row.t);
    });
    await eventually(async () => {
      const [row] = await ctx!.sql<{ t: string }>(`SELECT SCP_updated AS t FROM ${ctx!.table}`);
      expect(String(row.t)).not.toBe(first);
    });
    // Three thresholds later the live row is still there: the heartbeat keeps it ahead of GC.
    await new Promise((resolve) => setTimeout(resolve, 1800));
    expect(await ctx.presence.count('sockets')).toBe(1);
  });
});
