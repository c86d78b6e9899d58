/**
 * The periodic statements read by index on MariaDB, so that their cost follows this instance's rows (the
 * heartbeat), the live users (the GC's orphan search) or the rows they remove (reaping, collecting), not the
 * whole table. Checked with EXPLAIN on the statements the module actually sent.
 */
import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, MYSQL_URL, dropTables, eventually, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { StatementLog, explain } from '../support/sql-counter.js';
import type { AGClientSocket } from 'socketcluster-client';
import type { ModuleRef } from '@nestjs/core';
import { PresenceConfig } from '../../src/options/presence.config.js';
import { PresenceStore } from '../../src/store/presence.store.js';
import type { WriteBatch } from '../../src/presence.types.js';
import { PREFIX_CHUNK } from '../../src/store/sql.helpers.js';

const PRESENCE = '_SCPRESENCE';

/** Keeps each statement's parameters too, to EXPLAIN it with the values it was sent with. */
class ParamLog extends StatementLog {
  readonly sent: Array<{ query: string; params: unknown[] }> = [];

  override logQuery(query: string, parameters?: unknown): void {
    super.logQuery(query, parameters);
    this.sent.push({ query, params: Array.isArray(parameters) ? parameters : [] });
  }
}

/** A flush's deletes by socket id and by (socket, channel): lookups of a derived table's rows, or (without the unique key) a list. */
const BY_SOCKET_ID = /^DELETE (t FROM \(SELECT \? AS SCP_socket_id( UNION|\))|FROM `[^`]+` WHERE SCP_socket_id IN)/;
const STATUS_BY_SOCKET_ID = /^UPDATE \(SELECT \? AS SCP_socket_id( UNION|\))/;
const BY_PAIR = /^DELETE (t FROM \(SELECT \? AS SCP_socket_id, \? AS SCP_channel|FROM `[^`]+` WHERE \(SCP_socket_id = \? AND SCP_channel = \?\))/;

/**
 * The plan of a flush's delete: each of its values looked up in the unique key (`ref` by socket id, `eq_ref`
 * by the whole key), never a scan of the table.
 */
async function expectKeyLookups(sql: (query: string, params?: unknown[]) => Promise<unknown>, table: string, query: string, params: unknown[]): Promise<void> {
  const plan = await explain(sql, query, params);
  const sockets = plan.find((row) => row.table === 't');
  expect(sockets, `${query.slice(0, 70)}… (${params.length} params)`).toMatchObject({
    type: BY_PAIR.test(query) ? 'eq_ref' : 'ref',
    key: `UQ_${table}_socket_channel`,
  });
}

/**
 * The store alone, on a table of its own. Inside a running app the server chose the unique key for 500 pairs on
 * the same lagging statistics (why was not found), where the store bench's instances, like this store, did not.
 */
async function withStandaloneStore(
  prefix: string,
  test: (ctx: { table: string; sql: (query: string, params?: unknown[]) => Promise<unknown>; flush: (batch: Partial<WriteBatch>) => Promise<ParamLog['sent']> }) => Promise<void>,
): Promise<void> {
  const log = new ParamLog();
  const table = uniqueTable(prefix);
  const store = new PresenceStore(new PresenceConfig({ database: { type: 'mysql', url: MYSQL_URL, logger: log }, tableName: table }), {} as ModuleRef);
  await store.init();
  const sql = (query: string, params: unknown[] = []) => store.connection.query(query, params);
  /** One flush of instance 'busy' with no status to decide; what it sent. */
  const flush = async (batch: Partial<WriteBatch>) => {
    const from = log.sent.length;
    await store.write({ upserts: [], removedSockets: [], removedChannels: [], ...batch }, 'busy', new Date(), { users: [], deferOffline: false });
    return log.sent.slice(from);
  };
  try {
    await test({ table, sql, flush });
  } finally {
    await store.close();
    await dropTables(table);
  }
}

/** Presence and `room-…` rows of sessions `busy/1` … `busy/<sessions>`, each session in room (i mod `rooms`). */
function sessionRows(sessions: number, rooms: number): string {
  return Array.from({ length: sessions }, (_, i) => [PRESENCE, `room-${(i + 1) % rooms}`].map((channel) => `('busy/${i + 1}', 'user-${i + 1}', '${channel}', NOW(3), 'busy')`)).flat().join(', ');
}
const SESSION_COLUMNS = '(SCP_socket_id, SCP_user_id, SCP_channel, SCP_updated, SCP_instance_id)';

const TIMINGS = {
  socketcluster: { pingInterval: 100, pingTimeout: 2000 },
  heartbeat: { pingsPerUpdate: 2 },
  gc: { intervalMs: 100, thresholdMs: 1000 },
};

describe.runIf(BACKENDS.includes('mariadb')).sequential('periodic statements use an index (mariadb)', () => {
  let ctx: PresenceApp | undefined;
  const sockets: AGClientSocket[] = [];
  const table = uniqueTable('plans');

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    ctx = undefined;
  });

  const start = async (log: StatementLog, tableName = table) => {
    ctx = await startPresenceApp({ database: { type: 'mysql', url: MYSQL_URL, logger: log }, tableName, ...TIMINGS });
    return ctx;
  };

  const plan = (app: PresenceApp, statement: string, params: unknown[]) => explain(app.sql, statement, params);

  /** `sessions` sockets of `instance`, each with its presence row and one room (room-0 … room-49). */
  const fillSessions = (app: PresenceApp, into: string, instance: string, sessions: number, updated: string) =>
    app.sql(
      `INSERT INTO \`${into}\` (SCP_socket_id, SCP_user_id, SCP_channel, SCP_updated, SCP_instance_id)
       SELECT CONCAT(?, '/', s.seq), CONCAT('user-', ?, '-', s.seq), IF(c.seq = 0, ?, CONCAT('room-', s.seq % 50)), ${updated}, ?
       FROM seq_1_to_${sessions} s JOIN seq_0_to_1 c`,
      [instance, instance, PRESENCE, instance],
    );

  it('refreshes its rows by the instance index, and the GC finds orphans by the (status, last seen) index', async () => {
    const log = new StatementLog();
    const app = await start(log);
    sockets.push(await connectClient(app.port, app.server, { token: { user_id: 'ada' } }));
    await eventually(async () => expect(await app.sql(`SELECT 1 FROM \`${table}\``)).toHaveLength(1));
    // Offline users kept for the retention: many of them, so that a scan would be the costly plan.
    const values = Array.from({ length: 3000 }, (_, i) => `('gone-${i}', 'offline', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000')`);
    await app.sql(`INSERT INTO \`${table}_status\` (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ${values.join(', ')}`);
    await app.sql(`ANALYZE TABLE \`${table}_status\`, \`${table}\``);

    const heartbeat = await eventually(() => log.find(/^UPDATE .* SET SCP_updated = \?/s) ?? expect.fail('no heartbeat yet'), 5000);
    expect(heartbeat).toContain(`FORCE INDEX (\`IX_${table}_instance\`)`);
    const [refresh] = await plan(app, heartbeat, ['2026-01-01 00:00:00.000', 'x']);
    expect(refresh.key).toBe(`IX_${table}_instance`);

    const orphans = await eventually(() => log.find(/^SELECT s.SCP_user_id .* AND NOT EXISTS/s) ?? expect.fail('no GC run yet'), 5000);
    const plans = await plan(app, orphans, ['2026-01-01 00:00:00.000', '#presence']);
    const status = plans.find((row) => row.table === 's');
    expect(status?.key).toBe(`IX_${table}_st_seen`);
    expect(status?.type).toBe('range');
  });

  it('reaps a dead instance and collects stale sockets by index, while the index statistics lag behind the table', async () => {
    const log = new ParamLog();
    const own = uniqueTable('reap');
    const app = await start(log, own);
    try {
      sockets.push(await connectClient(app.port, app.server, { token: { user_id: 'ada' } }));
      await eventually(async () => expect(await app.sql(`SELECT 1 FROM \`${own}\``)).toHaveLength(1));
      // Statistics of a nearly empty table, kept while it grows: what a table that fills fast looks like between
      // two recalculations (rows are counted as they come, distinct values only when recalculated).
      await app.sql(`ANALYZE TABLE \`${own}\``);
      await app.sql(`ALTER TABLE \`${own}\` STATS_AUTO_RECALC = 0`);
      const fill = (instance: string, sessions: number, updated: string) => fillSessions(app, own, instance, sessions, updated);
      const from = log.sent.length;
      // A live instance's many rows (its lease does not expire; it started after this one, which stays GC leader)…
      await app.sql(`INSERT INTO \`${own}_instances\` VALUES ('busy', 'test', 1, '2099-01-01', '2099-01-01')`);
      await fill('busy', 10_000, 'NOW(3)');
      // …rows of no instance, not refreshed for long, which the GC collects…
      await fill('gone', 300, "'2026-01-01 00:00:00.000'");
      // …and a dead instance's rows, fresh (so that only the reap takes them), then its expired lease.
      await fill('dead', 300, 'NOW(3)');
      await app.sql(`INSERT INTO \`${own}_instances\` VALUES ('dead', 'test', 1, '2026-01-01', '2026-01-01')`);
      await eventually(async () => expect(await app.sql(`SELECT 1 FROM \`${own}\` WHERE SCP_instance_id IN ('dead', 'gone')`)).toHaveLength(0), 10_000);

      const deletes = log.sent.slice(from).filter(({ query }) => BY_SOCKET_ID.test(query));
      expect(deletes.length).toBeGreaterThanOrEqual(2);
      for (const { query, params } of deletes) {
        // With the ids it was sent with (gone by now), and with as many ids of sockets that are there.
        const live = params.map((_, i) => `busy/${i + 1}`);
        for (const values of [params, live]) await expectKeyLookups(app.sql, own, query, values);
      }
    } finally {
      await app.close();
      ctx = undefined;
      await dropTables(own);
    }
  });

  it("reads the room members' sockets of a flush by index, not the whole table", async () => {
    const log = new ParamLog();
    const own = uniqueTable('rooms');
    ctx = await startPresenceApp({ database: { type: 'mysql', url: MYSQL_URL, logger: log }, tableName: own, ...TIMINGS, channelPresence: { channels: /^room-/ } });
    const app = ctx;
    try {
      await app.sql(`INSERT INTO \`${own}_instances\` VALUES ('busy', 'test', 1, '2099-01-01', '2099-01-01')`);
      await fillSessions(app, own, 'busy', 10_000, 'NOW(3)');
      await app.sql(`ANALYZE TABLE \`${own}\``);
      const from = log.sent.length;
      const ada = await connectClient(app.port, app.server, { token: { user_id: 'ada' } });
      sockets.push(ada);
      await ada.subscribe('room-1').listener('subscribe').once(5000);
      const read = await eventually(
        () => log.sent.slice(from).find(({ query }) => /^SELECT c\.SCP_channel, c\.SCP_user_id/.test(query)) ?? expect.fail('no member read yet'),
        5000,
      );
      for (const row of await explain(app.sql, read.query, read.params)) expect(row, read.query).not.toMatchObject({ type: 'ALL' });
    } finally {
      await disconnectAll(...sockets.splice(0));
      await app.close();
      ctx = undefined;
      await dropTables(own);
    }
  });

  it("deletes a flush's left channels by the unique key, while the index statistics lag behind the table", () =>
    withStandaloneStore('left', async ({ table, sql, flush }) => {
      // Statistics of the empty table, then 10,000 sessions in 250 rooms that they do not know of. From 200 rooms
      // in one statement on, the rooms' rows too are estimated from those statistics: fewer than one per pair.
      await sql(`ANALYZE TABLE \`${table}\``);
      await sql(`ALTER TABLE \`${table}\` STATS_AUTO_RECALC = 0`);
      await sql(`INSERT INTO \`${table}\` ${SESSION_COLUMNS} VALUES ${sessionRows(10_000, 250)}`);
      // 500 sockets leave their room in one flush (a busy instance's unsubscribes).
      const left = Array.from({ length: 500 }, (_, i) => ({ socketId: `busy/${i + 1}`, channel: `room-${(i + 1) % 250}` }));
      const deletes = (await flush({ removedChannels: left })).filter(({ query }) => BY_PAIR.test(query));
      expect(deletes).toHaveLength(Math.ceil(left.length / PREFIX_CHUNK));
      const [{ n }] = (await sql(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE SCP_channel LIKE 'room-%'`)) as Array<{ n: string }>;
      expect(Number(n)).toBe(10_000 - left.length);
      for (const { query, params } of deletes) {
        // With the pairs it was sent with (gone by now), and with as many pairs of rows that are there.
        const live = params.map((_, i) => (i % 2 === 0 ? `busy/${i / 2 + 1001}` : `room-${((i - 1) / 2 + 1001) % 250}`));
        for (const values of [params, live]) await expectKeyLookups(sql, table, query, values);
      }
    }));

  it("deletes a flush's sockets and left channels by the unique key on a table of a few hundred rows", () =>
    // A new deployment's first minute, or the first storm after a cold start: on 300 rows a DELETE by socket id
    // is planned as a scan, which locks the rows of every instance it passes.
    withStandaloneStore('small', async ({ table, sql, flush }) => {
      await sql(`INSERT INTO \`${table}\` ${SESSION_COLUMNS} VALUES ${sessionRows(150, 20)}`);
      // A flush that ends 60 of the 150 sessions and takes 60 others out of their room.
      const removedSockets = Array.from({ length: 60 }, (_, i) => `busy/${i + 1}`);
      const removedChannels = Array.from({ length: 60 }, (_, i) => ({ socketId: `busy/${i + 61}`, channel: `room-${(i + 61) % 20}` }));
      const sent = await flush({ removedSockets, removedChannels });
      const deletes = [...sent.filter(({ query }) => BY_SOCKET_ID.test(query)), ...sent.filter(({ query }) => BY_PAIR.test(query))];
      expect(deletes).toHaveLength(2);
      const [{ n }] = (await sql(`SELECT COUNT(*) AS n FROM \`${table}\``)) as Array<{ n: string }>;
      expect(Number(n)).toBe(300 - 2 * 60 - 60);
      for (const { query, params } of deletes) await expectKeyLookups(sql, table, query, params);
    }));

  it("deletes a flush's rows without touching another instance's, while the server estimates the table at 0 rows", () =>
    withStandaloneStore('estimate', async ({ table, sql, flush }) => {
      await sql(`INSERT INTO \`${table}\` ${SESSION_COLUMNS} VALUES ${sessionRows(300, 20)}`);
      await sql(`INSERT INTO \`${table}\` ${SESSION_COLUMNS} VALUES ${sessionRows(300, 20).replaceAll('busy', 'other')}`);
      // Every upsert that finds its row already there takes one off MariaDB's estimate of the table's rows (status
      // changes do that to all of a socket's rows), until the statistics are recalculated.
      const rewrite = `INSERT INTO \`${table}\` ${SESSION_COLUMNS} VALUES ${sessionRows(300, 20)} ON DUPLICATE KEY UPDATE SCP_updated = VALUES(SCP_updated)`;
      for (let i = 0; i < 3; i++) await sql(rewrite);
      const [{ estimate }] = (await sql(
        'SELECT TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        [table],
      )) as Array<{ estimate: number | string }>;
      expect(Number(estimate), 'the estimate has dropped to (about) nothing').toBeLessThan(100);
      // Another instance's flush, still open, holds one of its rows.
      const held = await mysql.createConnection(MYSQL_URL);
      try {
        await held.query('START TRANSACTION');
        await held.query(`DELETE FROM \`${table}\` WHERE SCP_socket_id = 'other/150'`);
        // This instance's flush: 60 sessions end, 60 others leave their room, 60 more go idle. A scan would wait
        // for that row.
        const removedSockets = Array.from({ length: 60 }, (_, i) => `busy/${i + 1}`);
        const removedChannels = Array.from({ length: 60 }, (_, i) => ({ socketId: `busy/${i + 61}`, channel: `room-${(i + 61) % 20}` }));
        const statusChanges = Array.from({ length: 60 }, (_, i) => ({ socketId: `busy/${i + 121}`, status: 'idle' as const }));
        const sent = await Promise.race([
          flush({ removedSockets, removedChannels, statusChanges }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the flush waited for another instance's row")), 3000)),
        ]);
        const byKey = sent.filter(({ query }) => BY_SOCKET_ID.test(query) || BY_PAIR.test(query) || STATUS_BY_SOCKET_ID.test(query));
        expect(byKey).toHaveLength(3);
        for (const { query, params } of byKey) await expectKeyLookups(sql, table, query, params);
      } finally {
        await held.query('ROLLBACK');
        await held.end();
      }
      const [{ n }] = (await sql(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE SCP_instance_id = 'busy'`)) as Array<{ n: string }>;
      expect(Number(n)).toBe(600 - 2 * 60 - 60);
      const idle = (await sql(`SELECT SCP_socket_id FROM \`${table}\` WHERE SCP_status = 'idle'`)) as Array<{ SCP_socket_id: string }>;
      expect(idle).toHaveLength(2 * 60);
      expect(new Set(idle.map((row) => row.SCP_socket_id))).toEqual(new Set(Array.from({ length: 60 }, (_, i) => `busy/${i + 121}`)));
    }));

  it("counts the sessions of a flush's users in one statement, each part of it by the (channel, user) index", async () => {
    const log = new ParamLog();
    const app = await start(log, uniqueTable('counts'));
    await app.sql(`INSERT INTO \`${app.table}_instances\` VALUES ('busy', 'test', 1, '2099-01-01', '2099-01-01')`);
    await fillSessions(app, app.table, 'busy', 10_000, 'NOW(3)');
    await app.sql(`ANALYZE TABLE \`${app.table}\``);
    // Then the table grows by more than its statistics know: 350 users of one flush, 5 more sessions of each.
    const users = Array.from({ length: 350 }, (_, i) => `user-busy-${i + 1}`);
    const socket = (u: string, k: number) => ({ socketId: `${u}/more-${k}`, userId: u, authToken: null, ip: null, origin: null, status: 'online' as const, connectedAt: new Date(), state: null });
    const store = app.app.get(PresenceStore);
    const from = log.sent.length;
    await store.write({ upserts: users.flatMap((u) => [0, 1, 2, 3, 4].map((k) => ({ socket: socket(u, k), presence: true, channels: [] }))), removedSockets: [], removedChannels: [] }, 'busy', new Date(), {
      users,
      deferOffline: false,
    });
    const counts = log.sent.slice(from).filter(({ query }) => /GROUP BY SCP_user_id/.test(query));
    expect(counts).toHaveLength(1);
    const parts = counts[0].query.split('UNION ALL');
    expect(parts).toHaveLength(Math.ceil(users.length / PREFIX_CHUNK));
    for (const part of parts) expect(part.match(/\?/g)!.length).toBeLessThanOrEqual(PREFIX_CHUNK + 1);
    const rows = await explain(app.sql, counts[0].query, counts[0].params);
    for (const row of rows.filter((r) => r.table === app.table)) expect(row, counts[0].query).toMatchObject({ key: `IX_${app.table}_channel_user`, type: 'range' });
  });

  it('refreshes a table made without the instance index too, without the hint', async () => {
    const admin = new StatementLog();
    const first = await start(admin);
    await first.sql(`DROP INDEX \`IX_${table}_instance\` ON \`${table}\``);
    await first.close();
    ctx = undefined;

    const log = new StatementLog();
    const app = await start(log);
    sockets.push(await connectClient(app.port, app.server, { token: { user_id: 'ada' } }));
    await eventually(async () => expect(await app.sql(`SELECT 1 FROM \`${table}\``)).toHaveLength(1));
    const before = log.queries.length;
    const heartbeat = await eventually(
      () => log.find(/^UPDATE .* SET SCP_updated = \?/s, before) ?? expect.fail('no heartbeat yet'),
      5000,
    );
    expect(heartbeat).not.toContain('FORCE INDEX');
    const updated = async () => {
      const [row] = (await app.sql(`SELECT SCP_updated AS updated FROM \`${table}\``)) as Array<{ updated: Date }>;
      return new Date(row.updated).getTime();
    };
    const written = await updated();
    await eventually(async () => expect(await updated()).toBeGreaterThan(written + 300));
    await app.close();
    ctx = undefined;
    await dropTables(table);
  });
});
