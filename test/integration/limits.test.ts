/**
 * Limits on what one socket can make the module store and do, each at its edge: just under is accepted, past
 * it is refused with a PresenceError and nothing is stored. Also: a socket's own writes are visible to the reads
 * that follow them (the flush window does not hide them).
 *
 * PRESENCE_LIMITS_LOG=1 prints the figures measured (statements, hook events, bytes).
 */
import { describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { DataSource } from 'typeorm';
import { PresenceGc } from '../../src/cluster/presence-gc.service.js';
import { presenceMigrations, type PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, databaseOptions, dropTables, eventually, presenceTestBed, sleep, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, subscribe } from '../support/clients.js';
import { HookRecorder } from '../support/hook-recorder.js';
import { SqlStatementCounter } from '../support/sql-counter.js';

const log = (...args: unknown[]) => {
  if (process.env.PRESENCE_LIMITS_LOG) console.log(...args);
};

describe.each(BACKENDS)('limits (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp;

  async function start(extra: PresenceModuleOptions = {}) {
    ctx = await bed.start(extra, { providers: [HookRecorder] });
    return ctx;
  }

  const client = async (userId?: string) =>
    bed.track(await connectClient(ctx.port, ctx.server, userId ? { token: { user_id: userId } } : {}));

  const rowsOf = async (socket: AGClientSocket) =>
    Number((await ctx.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM ${ctx.table} WHERE SCP_socket_id = ?`, [socket.id]))[0].n);

  const subscribeAll = (socket: AGClientSocket, channels: string[]) => Promise.all(channels.map((ch) => subscribe(socket, ch)));
  const rooms = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `room:${from + i}`);

  describe('subscriptions per socket', () => {
    it('accepts up to limits.subscriptionsPerSocket and refuses the next one, storing nothing for it', async () => {
      await start({ limits: { subscriptionsPerSocket: 20 } });
      const socket = await client();
      await subscribeAll(socket, rooms(19));
      await subscribe(socket, 'room:19'); // the 20th: at the limit, still accepted
      await expect(subscribe(socket, 'room:20')).rejects.toMatchObject({
        name: 'PresenceError',
        message: expect.stringContaining('at most 20 subscriptions'),
      });
      expect(socket.subscriptions()).toHaveLength(20);
      await eventually(async () => expect(await rowsOf(socket)).toBe(21));
      await sleep(50);
      expect(await rowsOf(socket)).toBe(21);
      // Room again after leaving one.
      socket.unsubscribe('room:0');
      await eventually(() => expect(socket.subscriptions()).toHaveLength(19));
      await subscribe(socket, 'room:20');
      await eventually(async () => expect(await rowsOf(socket)).toBe(21));
    });

    it('refuses the 1,001st subscription by default', async () => {
      await start();
      const socket = await client();
      await subscribeAll(socket, rooms(1000));
      await expect(subscribe(socket, 'room:1000')).rejects.toMatchObject({ name: 'PresenceError' });
      await eventually(async () => expect(await rowsOf(socket)).toBe(1001), 15_000);
    });
  });

  describe('auth token storage', () => {
    const token = { user_id: 'tok', blob: 'x'.repeat(15_000) };
    const tokenBytes = async (socket: AGClientSocket) =>
      ctx.sql<{ SCP_channel: string; n: number | null }>(
        `SELECT SCP_channel, LENGTH(SCP_authToken) AS n FROM ${ctx.table} WHERE SCP_socket_id = ? ORDER BY SCP_channel`,
        [socket.id],
      );

    it('stores the token JSON on the presence row only; channel rows hold NULL', async () => {
      await start();
      const socket = bed.track(await connectClient(ctx.port, ctx.server, { token }));
      await subscribeAll(socket, rooms(50));
      await eventually(async () => expect(await tokenBytes(socket)).toHaveLength(51));
      const rows = await tokenBytes(socket);
      const stored = rows.reduce((sum, row) => sum + Number(row.n ?? 0), 0);
      log(`${backend}: token JSON stored for 1 socket with 50 subscriptions: ${stored} bytes in ${rows.length} rows`);
      expect(rows.find((r) => r.SCP_channel === '_SCPRESENCE')!.n).toBeGreaterThan(15_000);
      expect(rows.filter((r) => r.SCP_channel !== '_SCPRESENCE').every((r) => r.n === null)).toBe(true);
    });

    it('stores no token with storeAuthToken: false', async () => {
      await start({ storeAuthToken: false });
      const socket = bed.track(await connectClient(ctx.port, ctx.server, { token }));
      await subscribeAll(socket, rooms(3));
      await eventually(async () => expect(await tokenBytes(socket)).toHaveLength(4));
      expect((await tokenBytes(socket)).every((r) => r.n === null)).toBe(true);
      expect(await ctx.presence.getUserStatus('tok')).toBe('online');
    });
  });

  describe('side tables', () => {
    it('prunes offline status rows unseen for gc.retentionMs and counters of empty channels, and keeps the rest', async () => {
      const retentionMs = 60_000;
      await start({ gc: { enabled: true, intervalMs: 3_600_000, retentionMs }, channelPresence: { channels: /^room:/ } });
      for (const user of ['old', 'recent', 'here']) {
        const socket = await client(user);
        await subscribe(socket, `room:${user}`);
        await eventually(async () => expect(await ctx.presence.getUserStatus(user)).toBe('online'));
        if (user !== 'here') socket.disconnect();
      }
      await eventually(async () => expect(await ctx.presence.getUserStatus('recent')).toBe('offline'));
      await eventually(async () => expect(await ctx.presence.getUserStatus('old')).toBe('offline'));
      const status = `${ctx.table}_status`;
      const channels = `${ctx.table}_channels`;
      const ago = (ms: number) => new Date(Date.now() - ms).toISOString().replace('T', ' ').replace('Z', '');
      await ctx.sql(`UPDATE ${status} SET SCP_last_seen = ? WHERE SCP_user_id IN ('old', 'here')`, [ago(retentionMs + 5000)]);
      await ctx.sql(`UPDATE ${status} SET SCP_last_seen = ? WHERE SCP_user_id = 'recent'`, [ago(retentionMs - 5000)]);
      await ctx.sql(`UPDATE ${channels} SET SCP_changed = ? WHERE SCP_channel IN ('room:old', 'room:here')`, [ago(retentionMs + 5000)]);
      await ctx.sql(`UPDATE ${channels} SET SCP_changed = ? WHERE SCP_channel = 'room:recent'`, [ago(retentionMs - 5000)]);

      await ctx.app.get(PresenceGc).run();
      const users = (await ctx.sql<{ SCP_user_id: string }>(`SELECT SCP_user_id FROM ${status} ORDER BY SCP_user_id`)).map((r) => r.SCP_user_id);
      expect(users).toEqual(['here', 'recent']); // 'here' is online: never pruned
      const kept = (await ctx.sql<{ SCP_channel: string }>(`SELECT SCP_channel FROM ${channels} ORDER BY SCP_channel`)).map((r) => r.SCP_channel);
      expect(kept).toEqual(['room:here', 'room:recent']); // 'room:here' has a member
      expect(await ctx.presence.getUserStatusDetails(['old'])).toEqual({ old: { status: 'offline', since: null, lastSeen: null } });
    });

    it('upgrades channel counters made before the retention migration: kept, and stamped so that none is pruned at once', async () => {
      const ds = new DataSource({ ...databaseOptions(backend) } as never);
      await ds.initialize();
      const table = uniqueTable('upg');
      const runner = ds.createQueryRunner();
      try {
        const [schema, channels, ...later] = presenceMigrations;
        await new schema(table).up(runner);
        await new channels(table).up(runner);
        await runner.query(`INSERT INTO ${table}_channels (SCP_channel, SCP_seq) VALUES ('room:old', 7)`);
        for (const Migration of [...later, ...presenceMigrations]) await new Migration(table).up(runner); // twice: idempotent
        const [row] = await runner.query(`SELECT SCP_seq, SCP_changed FROM ${table}_channels`);
        expect(Number(row.SCP_seq)).toBe(7);
        expect(row.SCP_changed).not.toBeNull();
      } finally {
        await runner.release();
        await ds.destroy();
        if (backend === 'mariadb') await dropTables(table);
      }
    });

    it('prunes a backlog in bounded steps, one statement per table and run', async () => {
      const logger = new SqlStatementCounter({ record: true });
      await start({ database: { ...databaseOptions(backend), logger } as PresenceModuleOptions['database'], gc: { enabled: true, intervalMs: 3_600_000, retentionMs: 1000 } });
      const status = `${ctx.table}_status`;
      const old = new Date(Date.now() - 60_000).toISOString().replace('T', ' ').replace('Z', '');
      const values = Array.from({ length: 700 }, (_, i) => `('u${i}', 'offline', '${old}', '${old}')`).join(', ');
      await ctx.sql(`INSERT INTO ${status} (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ${values}`);
      const count = async () => Number((await ctx.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM ${status}`))[0].n);
      const gc = ctx.app.get(PresenceGc);
      logger.recorded.length = 0;
      await gc.run();
      expect(logger.recorded.filter((q) => q.startsWith('DELETE') && q.includes('_status'))).toHaveLength(1);
      expect(await count()).toBe(200);
      await gc.run();
      expect(await count()).toBe(0);
    });
  });

  describe('status changes', () => {
    /** One socket flips its status as fast as the server answers, for `ms`; returns how many calls it made. */
    async function flap(socket: AGClientSocket, ms: number): Promise<number> {
      const until = Date.now() + ms;
      let calls = 0;
      while (Date.now() < until) {
        await socket.invoke('presence.setStatus', calls % 2 === 0 ? 'idle' : 'online');
        calls++;
      }
      return calls;
    }

    async function measure(statusIntervalMs: number, concurrent: number) {
      const logger = new SqlStatementCounter();
      await start({ database: { ...databaseOptions(backend), logger } as PresenceModuleOptions['database'], limits: { statusIntervalMs } });
      const socket = await client('flappy');
      await eventually(async () => expect(await ctx.presence.getUserStatus('flappy')).toBe('online'));
      const hooks = ctx.app.get(HookRecorder);
      hooks.clear();
      const before = logger.total;
      // A burst of calls sent at once (past the few answered at once, refused), then calls one after another
      // as fast as they are answered.
      const burst = await Promise.allSettled(
        Array.from({ length: concurrent }, (_, i) => socket.invoke('presence.setStatus', i % 2 === 0 ? 'idle' : 'online')),
      );
      const refused = burst.filter((r) => r.status === 'rejected');
      expect(refused.every((r) => (r as PromiseRejectedResult).reason.name === 'PresenceError')).toBe(true);
      expect(refused.length).toBeGreaterThan(0);
      const calls = concurrent + (await flap(socket, 1500));
      await ctx.presence.getUserStatus('flappy');
      await sleep(50);
      const figures = { calls, statements: logger.total - before, hooks: hooks.userLines('flappy').length };
      log(`${backend}: statusIntervalMs ${statusIntervalMs}: ${JSON.stringify(figures)}`);
      return figures;
    }

    it('writes a flapping socket at most once per limits.statusIntervalMs', async () => {
      const figures = await measure(500, 2000);
      expect(figures.calls).toBeGreaterThanOrEqual(2000);
      // 1.5 s of sequential flapping plus the burst: a handful of intervals, each one flush and at most one hook.
      expect(figures.hooks).toBeLessThanOrEqual(8);
      expect(figures.statements).toBeLessThanOrEqual(8 * 12);
    });

    it('writes the first change at once and the last change of an interval at its end', async () => {
      await start({ limits: { statusIntervalMs: 400 } });
      const socket = await client('ida');
      await eventually(async () => expect(await ctx.presence.getUserStatus('ida')).toBe('online'));
      const started = Date.now();
      await socket.invoke('presence.setStatus', 'idle'); // first: written at once
      expect(await ctx.presence.getUserStatus('ida')).toBe('idle');
      // Within the interval: held, then only the last of them stored at the interval's end, and all resolve then.
      const held = ['online', 'idle', 'online'].map((status) => socket.invoke('presence.setStatus', status));
      await sleep(100);
      expect(await ctx.presence.getUserStatus('ida')).toBe('idle');
      await Promise.all(held);
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(await ctx.presence.getUserStatus('ida')).toBe('online');
      const hooks = ctx.app.get(HookRecorder).userLines('ida');
      expect(hooks).toEqual(['user.online:ida:connect', 'user.idle:ida:status', 'user.online:ida:status']);
    });
  });

  describe('frame size of the attached server', () => {
    const closed = (socket: AGClientSocket) =>
      socket.listener('close').once(5000).then(({ code }) => code);

    it('refuses a frame over the 1 MiB default by closing the socket, and keeps one under it', async () => {
      await start();
      const small = await client('small');
      small.transmit('note', 'x'.repeat(1024 * 1024 - 1024));
      const big = await client('big');
      const bigClosed = closed(big);
      big.transmit('note', 'x'.repeat(1024 * 1024 + 1024));
      expect(await bigClosed).toBe(1009);
      await sleep(100);
      expect(small.state).toBe(small.OPEN);
      await eventually(async () => expect(await ctx.presence.getUserStatus('big')).toBe('offline'));
      expect(await ctx.presence.getUserStatus('small')).toBe('online');
    });

    it('takes a larger maxPayload from the socketcluster options', async () => {
      await start({ socketcluster: { maxPayload: 4 * 1024 * 1024 } });
      const socket = await client('large');
      socket.transmit('note', 'x'.repeat(2 * 1024 * 1024));
      await sleep(200);
      expect(socket.state).toBe(socket.OPEN);
    });
  });

  describe('read your own writes', () => {
    it('a socket that has just subscribed finds itself in presence.members, at a diff boundary', async () => {
      // A long flush window: without waiting for it, the read would come before the write.
      await start({ flushIntervalMs: 1000, channelPresence: { channels: /^room:/ } });
      const watcher = await client('watcher');
      await subscribe(watcher, 'room:1');
      const diffs: Array<{ seq: number; joins: Array<{ userId: string }> }> = [];
      const presence = await subscribe(watcher, 'presence:room:1');
      void (async () => {
        for await (const diff of presence) diffs.push(diff as never);
      })();
      const socket = await client('self');
      await subscribe(socket, 'room:1');
      const snapshot = (await socket.invoke('presence.members', 'room:1')) as { seq: number; members: Array<{ userId: string }> };
      expect(snapshot.members.map((m) => m.userId)).toEqual(['self', 'watcher']);
      await eventually(() => expect(diffs.find((d) => d.joins.some((m) => m.userId === 'self'))).toBeDefined());
      expect(diffs.find((d) => d.joins.some((m) => m.userId === 'self'))!.seq).toBe(snapshot.seq);
    });

    it('the service sees a socket of this instance as soon as it is connected and subscribed', async () => {
      await start({ flushIntervalMs: 1000 });
      const socket = await client('fresh');
      await subscribe(socket, 'room:9');
      const sessions = await ctx.presence.getUserSessions('fresh');
      expect(sessions).toMatchObject([{ socketId: socket.id, channels: ['room:9'] }]);
      expect(await ctx.presence.getUserStatus('fresh')).toBe('online');
      expect((await ctx.presence.getChannelMembers('room:9')).map((s) => s.socketId)).toEqual([socket.id]);
    });
  });
});
