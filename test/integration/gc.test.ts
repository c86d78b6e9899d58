import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type Backend, type PresenceApp } from '../support/presence-app.js';
import { connectClient, subscribe } from '../support/clients.js';
import { observeExchange, type ExchangeObserver } from '../support/usercount-observer.js';
import { toSqlTime } from '../../src/store/sql.dialect.js';

/** UTC text with milliseconds, as the module writes SCP_updated. */
const minutesAgo = (minutes: number) => toSqlTime(new Date(Date.now() - minutes * 60_000));

/** The columns the module writes for every row (ROW_COLUMNS of the store). */
const COLUMNS = [
  'SCP_socket_id', 'SCP_user_id', 'SCP_channel', 'SCP_updated', 'SCP_authToken', 'SCP_ip', 'SCP_origin',
  'SCP_instance_id', 'SCP_status', 'SCP_connected',
];

/** Short timings: heartbeat every 200 ms, GC every 100 ms, rows older than 1 s are abandoned. */
const GC_TIMINGS: PresenceModuleOptions = {
  socketcluster: { pingInterval: 100, pingTimeout: 2000 },
  heartbeat: { pingsPerUpdate: 2 },
  gc: { intervalMs: 100, thresholdMs: 1000 },
};

describe.each(BACKENDS)('garbage collection of abandoned rows (%s)', (backend: Backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  /**
   * Rows as a crashed instance leaves them: another instance id, last refreshed 10 minutes ago. Each socket
   * has its presence row and one row per channel. Inserted with one statement, as another service would.
   */
  const insertDeadInstance = async (sockets: Array<{ userId: string | null; channels: string[] }>, lease?: string) => {
    const instanceId = randomUUID();
    const updated = minutesAgo(10);
    const connected = minutesAgo(30);
    const rows: unknown[][] = [];
    const socketIds: string[] = [];
    for (const { userId, channels } of sockets) {
      const socketId = randomUUID();
      socketIds.push(socketId);
      const token = userId === null ? null : JSON.stringify({ user_id: userId });
      for (const channel of ['_SCPRESENCE', ...channels]) {
        rows.push([socketId, userId, channel, updated, token, '10.0.0.9', 'http://dead.test', instanceId, 'online', connected]);
      }
    }
    await ctx!.sql(
      `INSERT INTO ${ctx!.table} (${COLUMNS.join(', ')}) VALUES ${rows.map(() => `(${COLUMNS.map(() => '?').join(', ')})`).join(', ')}`,
      rows.flat(),
    );
    await ctx!.sql(
      `INSERT INTO ${ctx!.table}_instances (SCP_instance_id, SCP_host, SCP_pid, SCP_started, SCP_heartbeat) VALUES (?, ?, ?, ?, ?)`,
      [instanceId, 'dead-host', 4242, connected, lease ?? updated],
    );
    return { instanceId, socketIds, rows: rows.length };
  };

  const rowsOf = async (instanceId: string) => {
    const [row] = await ctx!.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${ctx!.table} WHERE SCP_instance_id = ?`, [instanceId]);
    return Number(row.n);
  };
  const leaseOf = async (instanceId: string) => {
    const [row] = await ctx!.sql<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM ${ctx!.table}_instances WHERE SCP_instance_id = ?`,
      [instanceId],
    );
    return Number(row.n);
  };

  it('deletes the rows and the lease of a dead instance within gc.intervalMs, and keeps live rows', async () => {
    ctx = await bed.start(GC_TIMINGS);
    const live = await connectClient(ctx.port, ctx.server, { token: { user_id: 'alive' } });
    bed.track(live);
    await subscribe(live, 'room');
    await eventually(async () => expect(await ctx!.presence.count('sockets')).toBe(1));
    const [{ id: liveInstance }] = await ctx.sql<{ id: string }>(`SELECT SCP_instance_id AS id FROM ${ctx.table} LIMIT 1`);

    const dead = await insertDeadInstance([
      { userId: 'ghost-1', channels: ['room', 'other'] },
      { userId: 'ghost-2', channels: [] },
      { userId: null, channels: ['room'] },
    ]);
    // (No check that they are there: GC may already be removing them.)
    const inserted = Date.now();
    await eventually(async () => {
      expect(await rowsOf(dead.instanceId)).toBe(0);
      expect(await leaseOf(dead.instanceId)).toBe(0);
    }, 3000, 10);
    // One GC interval (100 ms) plus the statements themselves; far below the 1 s threshold.
    expect(Date.now() - inserted).toBeLessThan(1000);

    // Two thresholds later the live socket's rows and its instance's lease are still there.
    await sleep(2000);
    expect(await rowsOf(liveInstance)).toBe(2);
    expect(await leaseOf(liveInstance)).toBe(1);
    expect(await ctx.presence.count('users')).toBe(1);
    expect(await ctx.presence.count('subscriptions')).toBe(1);
  });

  it('republishes the user count after GC removed rows', async () => {
    ctx = await bed.start(GC_TIMINGS);
    const observer = observeExchange(ctx.server);
    bed.onCleanup(() => observer.stop());
    const live = await connectClient(ctx.port, ctx.server, { token: { user_id: 'alive' } });
    bed.track(live);
    await eventually(() => expect(observer.last()).toBe(1));
    await sleep(300);
    const before = observer.received.length;

    const dead = await insertDeadInstance([{ userId: 'ghost-1', channels: ['room'] }, { userId: 'ghost-2', channels: [] }]);
    await eventually(async () => expect(await rowsOf(dead.instanceId)).toBe(0), 3000);
    // Nothing else happened on this instance: the publish comes from GC, and counts only the live user.
    await eventually(() => expect(observer.received.length).toBeGreaterThan(before), 3000);
    expect(observer.values().slice(before)).toEqual([1]);
  });

  it('leaves stale rows of an instance whose lease is current to the reaping once that lease expires', async () => {
    ctx = await bed.start(GC_TIMINGS);
    // Rows older than the threshold under a lease renewed just now (in a minute, so it stays current): what a
    // flush stamped just before a heartbeat and committed just after it leaves behind, at a larger scale.
    const inAMinute = toSqlTime(new Date(Date.now() + 60_000));
    const other = await insertDeadInstance([{ userId: 'busy-1', channels: ['room'] }], inAMinute);
    // Started after this app's instance, so that this one stays the GC leader.
    await ctx.sql(`UPDATE ${ctx.table}_instances SET SCP_started = ? WHERE SCP_instance_id = ?`, [inAMinute, other.instanceId]);
    await sleep(500);
    expect(await rowsOf(other.instanceId)).toBe(other.rows);
    await ctx.sql(`UPDATE ${ctx.table}_instances SET SCP_heartbeat = ? WHERE SCP_instance_id = ?`, [minutesAgo(10), other.instanceId]);
    await eventually(async () => {
      expect(await rowsOf(other.instanceId)).toBe(0);
      expect(await leaseOf(other.instanceId)).toBe(0);
    }, 3000, 10);
  });

  it('never deletes anything with gc: { enabled: false }', async () => {
    ctx = await bed.start({ ...GC_TIMINGS, gc: { enabled: false, intervalMs: 100, thresholdMs: 1000 } });
    const live = await connectClient(ctx.port, ctx.server, { token: { user_id: 'alive' } });
    bed.track(live);
    await eventually(async () => expect(await ctx!.presence.count('sockets')).toBe(1));

    const dead = await insertDeadInstance([{ userId: 'ghost-1', channels: ['room'] }, { userId: null, channels: [] }]);
    // Many intervals and two thresholds later, the abandoned rows are still there.
    await sleep(2000);
    expect(await rowsOf(dead.instanceId)).toBe(dead.rows);
    expect(await leaseOf(dead.instanceId)).toBe(1);
    expect(await ctx.presence.count('sockets')).toBe(3);
  });
});
