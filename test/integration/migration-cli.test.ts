/**
 * The DBA path: tables created by `npm run migration:run` (TypeORM CLI on ormconfig.ts), then an app that
 * does not run migrations itself (`database.migrationsRun: false`) working against them.
 *
 * The test uses a database of its own, created and dropped here, rather than `test`: the CLI records the
 * migration by name in `<table>_migrations`; a database of its own keeps the test apart from other runs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import type { AGClientSocket } from 'socketcluster-client';
import { BACKENDS, MYSQL_URL, eventually, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';
import { presenceMigrations } from '../../src/store/migrations/index.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

const database = `scp_cli_${randomBytes(4).toString('hex')}`;
const url = new URL(MYSQL_URL);
url.pathname = `/${database}`;
const DATABASE_URL = url.toString();
const table = uniqueTable('cli');

async function migrationRun() {
  return run('npm', ['run', 'migration:run'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL, PRESENCE_TABLE_NAME: table },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

describe.runIf(BACKENDS.includes('mariadb')).sequential('migration:run with the TypeORM CLI (mariadb)', () => {
  let admin: DataSource;
  let ctx: PresenceApp | undefined;
  const sockets: AGClientSocket[] = [];

  const tables = async () =>
    (
      await admin.query<Array<{ name: string }>>(
        'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
        [database],
      )
    ).map((r) => r.name);
  const migrations = () => admin.query<Array<{ name: string }>>(`SELECT name FROM \`${database}\`.\`${table}_migrations\``);

  beforeAll(async () => {
    admin = new DataSource({ type: 'mysql', url: MYSQL_URL });
    await admin.initialize();
    await admin.query(`CREATE DATABASE \`${database}\``);
  });

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    ctx = undefined;
  });

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin?.destroy();
  });

  it('creates the six tables with the sc-presence columns', async () => {
    const { stdout } = await migrationRun();
    expect(stdout).toMatch(/PresenceSchema1732406400000 has been executed successfully/);

    expect(await tables()).toEqual(
      [`${table}_migrations`, table, `${table}_instances`, `${table}_status`, `${table}_members`, `${table}_channels`, `${table}_history`].sort(),
    );
    // Every migration of the module, in its order (the class names are the migration names).
    expect((await migrations()).map((m) => m.name)).toEqual(presenceMigrations.map((Migration) => Migration.name));
    expect((await migrations()).map((m) => m.name)).toContain('PresenceSessionState1733140800000');

    const columns = await admin.query<Array<{ name: string; type: string }>>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [database, table],
    );
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type.toLowerCase()]));
    expect(types).toMatchObject({
      SCP_id: expect.stringMatching(/int/),
      SCP_socket_id: 'varchar',
      SCP_user_id: 'varchar',
      SCP_channel: 'varchar',
      SCP_updated: 'datetime',
      SCP_authToken: expect.stringMatching(/text|json|longtext/),
      SCP_ip: 'varchar',
      SCP_origin: 'varchar',
      SCP_state: 'text',
    });
  }, 180_000);

  it('does nothing on a second run, and succeeds', async () => {
    const before = await tables();
    const { stdout } = await migrationRun();
    expect(stdout).toMatch(/No migrations are pending/);
    expect(await tables()).toEqual(before);
    expect(await migrations()).toHaveLength(presenceMigrations.length);
  }, 180_000);

  it('serves an app started with migrationsRun: false on those tables', async () => {
    const before = await tables();
    ctx = await startPresenceApp({
      database: { type: 'mysql', url: DATABASE_URL, migrationsRun: false },
      tableName: table,
      flushIntervalMs: 5,
      usercount: { startupQuietMs: 0, connectDelayMs: 0 },
    });
    const socket = await connectClient(ctx.port, ctx.server, { token: { user_id: 'dba-user' } });
    sockets.push(socket);
    await subscribe(socket, 'room');

    const rows = () =>
      admin.query<Array<{ SCP_user_id: string; SCP_channel: string }>>(
        `SELECT SCP_user_id, SCP_channel FROM \`${database}\`.\`${table}\` ORDER BY SCP_channel`,
      );
    await eventually(async () =>
      expect(await rows()).toEqual([
        { SCP_user_id: 'dba-user', SCP_channel: '_SCPRESENCE' },
        { SCP_user_id: 'dba-user', SCP_channel: 'room' },
      ]),
    );
    expect(await ctx.presence.getUserStatus('dba-user')).toBe('online');
    expect(await ctx.presence.count('subscriptions')).toBe(1);
    const [lease] = await admin.query<Array<{ n: number | string }>>(`SELECT COUNT(*) AS n FROM \`${database}\`.\`${table}_instances\``);
    expect(Number(lease.n)).toBe(1);

    socket.disconnect();
    await eventually(async () => expect(await rows()).toEqual([]));
    expect(await tables()).toEqual(before);
  }, 60_000);
});
