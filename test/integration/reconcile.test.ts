import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, eventually, presenceTestBed } from '../support/presence-app.js';
import { observeExchange } from '../support/usercount-observer.js';
import { PresenceStore, type SocketRecord } from '../../src/store/presence.store.js';

const socket = (socketId: string, userId: string): SocketRecord => ({
  socketId, userId, authToken: null, ip: null, origin: null, status: 'online', connectedAt: new Date(), state: null,
});

describe.each(BACKENDS)('reconciling after an outage (%s)', (backend) => {
  const bed = presenceTestBed(backend);

  it('drops the ghosts of an instance even when a heartbeat refreshed them after the rewrite began', async () => {
    const ctx = await bed.start({ usercount: false, gc: { enabled: false } });
    const store = ctx.app.get(PresenceStore);
    // An instance of our own making, so that the app's heartbeat does not touch its rows.
    const instance = { id: randomUUID(), host: 'test', pid: 1, startedAt: new Date() };
    const t0 = new Date(Date.now() - 1000);
    await store.heartbeat(instance, t0);
    const write = (upserts: Array<{ socket: SocketRecord; channels: string[] }>, at: Date, reconcile = false) =>
      store.write({ upserts: upserts.map((u) => ({ ...u, presence: true })), removedSockets: [], removedChannels: [] }, instance.id, at, {
        users: upserts.map((u) => u.socket.userId!),
        deferOffline: false,
        reconcile,
      });
    await write([{ socket: socket('live', 'u1'), channels: [] }, { socket: socket('gone', 'u2'), channels: ['room'] }], t0);
    expect(await ctx.presence.getUserStatuses(['u1', 'u2'])).toEqual({ u1: 'online', u2: 'online' });

    // A heartbeat stamps the rows later than the reconciling write that follows (its flush began earlier).
    const t1 = new Date();
    await store.heartbeat(instance, new Date(t1.getTime() + 5));
    const result = await write([{ socket: socket('live', 'u1'), channels: [] }], t1, true);

    expect(result.ghosts).toBe(2);
    const rows = await ctx.sql<{ s: string; c: string }>(
      `SELECT SCP_socket_id AS s, SCP_channel AS c FROM ${ctx.table} WHERE SCP_instance_id = ?`,
      [instance.id],
    );
    expect(rows).toEqual([{ s: 'live', c: '_SCPRESENCE' }]);
    expect(result.changes).toEqual([{ userId: 'u2', from: 'online', to: 'offline' }]);
    expect(await ctx.presence.getUserStatuses(['u1', 'u2'])).toEqual({ u1: 'online', u2: 'offline' });
  });

  it('publishes the count after a graceful shutdown has removed its sockets', async () => {
    const ctx = await bed.start();
    const observer = observeExchange(ctx.server);
    bed.onCleanup(() => observer.stop());
    await bed.connect({ token: { user_id: 'leaving' } });
    await eventually(() => expect(observer.last()).toBe(1));
    await ctx.close();
    await eventually(() => expect(observer.last()).toBe(0));
  });
});
