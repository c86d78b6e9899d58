/**
 * The DBA path from an installed package: `npx nestjs-sc-presence migrate` (dist/cli) creates the tables, then
 * the app runs as a user that has exactly the grants the README lists, and nothing more.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import type { AGClientSocket } from 'socketcluster-client';
import { presenceTableNames } from '../../src/index.js';
import { BACKENDS, MYSQL_URL, eventually, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = `${ROOT}dist/cli/presence.cli.js`;
const README = readFileSync(`${ROOT}README.md`, 'utf8');
const GRANT = /^GRANT SELECT, INSERT, UPDATE, DELETE ON `app`\.`(\w+)` TO 'presence'@'%';$/gm;

const database = `scp_bin_${randomBytes(4).toString('hex')}`;
const user = `scp_${randomBytes(4).toString('hex')}`;
const password = randomBytes(8).toString('hex');
const table = uniqueTable('bin');
const urlFor = (name: string, pass = '') => {
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  if (name) [url.username, url.password] = [name, pass];
  return url.toString();
};

const migrate = (...args: string[]) => run(process.execPath, [BIN, 'migrate', '--url', urlFor(''), '--table', table, ...args], { timeout: 60_000 });

describe('the README grant list', () => {
  it('names every table of the module, and only those', () => {
    const granted = [...README.matchAll(GRANT)].map((m) => m[1]).sort();
    expect(granted).toEqual(Object.values(presenceTableNames('SCPresence_users')).sort());
  });
});

describe.runIf(BACKENDS.includes('mariadb')).sequential('npx nestjs-sc-presence migrate, then an app with only the README grants (mariadb)', () => {
  let admin: DataSource;
  let ctx: PresenceApp | undefined;
  const sockets: AGClientSocket[] = [];
  const tables = async () =>
    (await admin.query<Array<{ n: string }>>('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [database]))
      .map((r) => r.n)
      .sort();

  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error('run `npm run build` first: the bin is dist/cli/presence.cli.js');
    admin = await new DataSource({ type: 'mysql', url: MYSQL_URL }).initialize();
    await admin.query(`CREATE DATABASE \`${database}\``);
  });

  afterEach(async () => {
    const app = ctx;
    ctx = undefined;
    await disconnectAll(...sockets.splice(0));
    await app?.close();
  });

  afterAll(async () => {
    await admin?.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin?.destroy();
  });

  it('--dry-run prints the SQL for all the tables and changes nothing', async () => {
    const { stdout } = await migrate('--dry-run');
    for (const name of Object.values(presenceTableNames(table))) expect(stdout).toContain(`CREATE TABLE IF NOT EXISTS \`${name}\``);
    expect(await tables()).toEqual([]);
  });

  it('creates the tables, records the migrations, and has nothing to do the second time', async () => {
    expect((await migrate()).stdout).toMatch(/^applied PresenceSchema1732406400000, PresenceChannels1732492800000, ScPresenceUpgrade1732665600000/);
    expect(await tables()).toEqual([...Object.values(presenceTableNames(table)), `${table}_migrations`].sort());
    expect((await migrate()).stdout).toMatch(/is up to date/);
  });

  it.each([false, true])('runs with the README grants only (channel presence %s)', async (channels) => {
    if (!channels) {
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      for (const [, granted] of README.matchAll(GRANT)) {
        await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${database}\`.\`${granted.replace('SCPresence_users', table)}\` TO '${user}'@'%'`);
      }
    }
    ctx = await startPresenceApp({
      database: { type: 'mysql', url: urlFor(user, password), migrationsRun: false },
      tableName: table,
      flushIntervalMs: 5,
      gc: { enabled: true, intervalMs: 100, thresholdMs: 60_000 },
      usercount: { startupQuietMs: 0, connectDelayMs: 0 },
      channelPresence: channels ? { channels: /^room:/ } : false,
    });
    const socket = await connectClient(ctx.port, ctx.server, { token: { user_id: 'ada' } });
    sockets.push(socket);
    await subscribe(socket, 'room:1');
    await socket.invoke('presence.setStatus', 'idle');
    if (channels) expect(await socket.invoke('presence.members', 'room:1')).toMatchObject({ members: [{ userId: 'ada', status: 'idle' }] });
    expect(await ctx.presence.getUserStatus('ada')).toBe('idle');
    await disconnectAll(...sockets.splice(0));
    await eventually(async () => expect(await ctx!.presence.getUserStatus('ada')).toBe('offline'));
    await ctx.close();
    ctx = undefined;
    expect(await admin.query(`SELECT COUNT(*) AS n FROM \`${database}\`.\`${table}\``)).toEqual([{ n: '0' }]);
  });
});
