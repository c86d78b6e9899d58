/**
 * The history's statements and the reconnect grace's GC sweep read by index on MariaDB: their cost follows the
 * rows they touch (one user's sessions, the expired ones, the held memberships), not the size of the table.
 * Checked with EXPLAIN on the statements the module actually sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, MYSQL_URL, dropTables, eventually, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { StatementLog, explain } from '../support/sql-counter.js';

describe.runIf(BACKENDS.includes('mariadb')).sequential('history and held-membership statements use an index (mariadb)', () => {
  let ctx: PresenceApp | undefined;
  const table = uniqueTable('hplans');

  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
    await dropTables(table);
  });

  const plan = (app: PresenceApp, statement: string, params: unknown[]) => explain(app.sql, statement, params);

  it('reads a user\'s sessions and last end by (user, ended), prunes by (ended), sweeps holds by (held)', async () => {
    const log = new StatementLog();
    ctx = await startPresenceApp({
      database: { type: 'mysql', url: MYSQL_URL, logger: log },
      tableName: table,
      socketcluster: { pingInterval: 100, pingTimeout: 2000 },
      heartbeat: { pingsPerUpdate: 2 },
      gc: { intervalMs: 100, thresholdMs: 1000 },
      history: { retentionMs: 24 * 60 * 60_000 },
      offlineGraceMs: 1000,
      channelPresence: { channels: /^room:/ },
    });
    const app = ctx;
    // Many recent sessions of many users, and many memberships that are not held: a scan would be the costly plan.
    const recent = new Date(Date.now() - 60_000).toISOString().replace('T', ' ').replace('Z', '');
    for (let part = 0; part < 6; part++) {
      const rows = Array.from({ length: 500 }, (_, i) => `('s-${part}-${i}', 'u${i % 300}', '${recent}', '${recent}', 'disconnect', 'x')`);
      await app.sql(
        `INSERT INTO \`${table}_history\` (SCP_socket_id, SCP_user_id, SCP_connected, SCP_disconnected, SCP_reason, SCP_instance_id) VALUES ${rows.join(', ')}`,
      );
      const members = Array.from({ length: 500 }, (_, i) => `('room:${part}', 'u${i}', 'online')`);
      await app.sql(`INSERT INTO \`${table}_members\` (SCP_channel, SCP_user_id, SCP_status) VALUES ${members.join(', ')}`);
    }
    await app.sql(`ANALYZE TABLE \`${table}_history\`, \`${table}_members\``);

    await app.presence.getSessionHistory('u1', { since: new Date(Date.now() - 3_600_000), limit: 10 });
    const ofUser = log.find(/^SELECT SCP_socket_id, .* FROM `[^`]+_history` WHERE SCP_user_id = \?/s) ?? expect.fail('no history read');
    const [read] = await plan(app, ofUser, ['u1', '2026-01-01 00:00:00.000']);
    expect(read.key).toBe(`IX_${table}_hist_user`);

    await app.presence.getUserStatusDetails(['u1', 'u2']);
    const last = log.find(/MAX\(SCP_disconnected\).* FROM `[^`]+_history` WHERE SCP_user_id IN/s) ?? expect.fail('no last-seen read');
    const [seen] = await plan(app, last, ['u1', 'u2']);
    expect(seen.key).toBe(`IX_${table}_hist_user`);

    const prune = await eventually(() => log.find(/^DELETE FROM `[^`]+_history` WHERE SCP_disconnected < \?/s) ?? expect.fail('no GC run yet'), 5000);
    const [pruning] = await plan(app, prune, ['2026-01-01 00:00:00.000']);
    expect(pruning.key).toBe(`IX_${table}_hist_ended`);
    expect(pruning.type).toBe('range');

    const sweep = await eventually(() => log.find(/^SELECT DISTINCT SCP_user_id FROM `[^`]+_members` WHERE SCP_held < \?/s) ?? expect.fail('no GC run yet'), 5000);
    const [held] = await plan(app, sweep, ['2026-01-01 00:00:00.000']);
    expect(held.key).toBe(`IX_${table}_m_held`);
  });
});
