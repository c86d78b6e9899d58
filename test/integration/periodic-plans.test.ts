/**
 * The periodic statements read by index on MariaDB, so that their cost follows this instance's rows (the
 * heartbeat) or the live users (the GC's orphan search), not the whole table. Checked with EXPLAIN on the
 * statements the module actually sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, MYSQL_URL, dropTables, eventually, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { StatementLog, explain } from '../support/sql-counter.js';
import type { AGClientSocket } from 'socketcluster-client';

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

  const start = async (log: StatementLog) => {
    ctx = await startPresenceApp({ database: { type: 'mysql', url: MYSQL_URL, logger: log }, tableName: table, ...TIMINGS });
    return ctx;
  };

  const plan = (app: PresenceApp, statement: string, params: unknown[]) => explain(app.sql, statement, params);

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
