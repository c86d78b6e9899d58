import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { closeSockets, connectTo } from '../cluster/support/clients.js';
import { MYSQL_URL, dropTables, eventually } from '../support/waits-and-tables.js';
import { ConsumerApp, ROOT, SERVER_PEERS } from './consumer-app.js';

/*
 * The package as a user gets it: `npm pack`, then a fresh Nest app (ESM on MySQL/MariaDB, CommonJS on SQLite)
 * that installs the tarball with the README's install line, compiles with tsc and starts. Two sockets of one
 * user must fire @OnUserOnline once, PresenceService must answer and the row must be in the table.
 */
const CONSUMER_URL = (() => {
  const url = new URL(process.env.PRESENCE_CONSUMER_MYSQL_URL ?? MYSQL_URL);
  if (!process.env.PRESENCE_CONSUMER_MYSQL_URL) url.pathname = `${url.pathname}_consumer`;
  return url;
})();
const RESULTS = join(ROOT, 'test-results/consumer');
// A folder of this run's own: nothing left by an earlier run (or a run beside it) is in the apps or their files.
const WORK = mkdtempSync(join(tmpdir(), 'nestjs-sc-presence-consumer-'));
const AUTH_KEY = randomBytes(16).toString('hex');
const TABLE = `consumer_${randomBytes(3).toString('hex')}`;
/**
 * Installing from a warm cache takes seconds; better-sqlite3 compiles from source: build_from_source keeps its
 * prebuild-install from downloading a binary from outside the registry (npm warns that it does not know it).
 */
const INSTALL_MS = 6 * 60_000;
const NPM_ENV = { npm_config_build_from_source: 'true', npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };

let tarball: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('run `npm run build` first: the tarball is packed from dist/');
  mkdirSync(RESULTS, { recursive: true });
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', WORK], { cwd: ROOT, encoding: 'utf8' }));
  tarball = join(WORK, packed.filename);
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  await admin.query(`CREATE DATABASE IF NOT EXISTS \`${CONSUMER_URL.pathname.slice(1)}\``);
  await admin.end();
}, 60_000);

// What the apps printed stays in test-results/consumer; their installs and the MySQL app's tables go.
afterAll(async () => {
  rmSync(WORK, { recursive: true, force: true });
  await dropTables(TABLE, CONSUMER_URL.toString());
});

const flavours = [
  { moduleType: 'module', driver: 'mysql2', backend: 'mariadb' },
  { moduleType: 'commonjs', driver: 'better-sqlite3', backend: 'sqlite' },
] as const;

describe.each(flavours)('a fresh $moduleType Nest app on $driver', ({ moduleType, driver, backend }) => {
  const app = new ConsumerApp(join(WORK, moduleType), join(RESULTS, `${moduleType}-install.log`));
  const sqliteFile = join(WORK, `${moduleType}.sqlite`);
  const sockets: AGClientSocket[] = [];
  let port: number;

  afterAll(async () => {
    closeSockets(sockets);
    await app.stop();
  });

  it('installs the tarball with its driver and compiles with tsc', async () => {
    app.create(moduleType);
    await app.sh('npm', ['install'], INSTALL_MS, NPM_ENV);
    const printed = await app.sh('npm', ['install', tarball, driver, ...SERVER_PEERS], INSTALL_MS, NPM_ENV);
    expect(printed).not.toMatch(/ERESOLVE|ETARGET|notarget/);
    await app.sh('npx', ['tsc', '-p', '.'], 120_000);
    // The client entry loads the way this app loads modules, and the bin runs from the installed package.
    const client = "typeof m.createPresenceClient === 'function' || process.exit(1)";
    await app.sh('node', moduleType === 'commonjs'
      ? ['-e', `const m = require('nestjs-sc-presence/client'); ${client}`]
      : ['--input-type=module', '-e', `const m = await import('nestjs-sc-presence/client'); ${client}`], 30_000);
    expect(await app.sh('npx', ['nestjs-sc-presence', '--help'], 30_000)).toMatch(/^Usage: nestjs-sc-presence migrate --url/);
    const main = readFileSync(join(app.dir, 'dist/app.module.js'), 'utf8');
    expect(main).toMatch(moduleType === 'commonjs' ? /require\("nestjs-sc-presence"\)/ : /from 'nestjs-sc-presence'/);
  }, INSTALL_MS * 2 + 120_000);

  it('starts, fires @OnUserOnline once for two sockets of one user (one with a token the app signed), answers and writes the row', async () => {
    const env = backend === 'mariadb' ? { DATABASE_URL: CONSUMER_URL.toString() } : { SQLITE_FILE: sqliteFile };
    port = await app.start({ ...env, AUTH_KEY, PRESENCE_TABLE: TABLE });
    sockets.push(await connectTo(port, { authKey: AUTH_KEY, userId: 'ada' }));
    // The second with a token the app signed with PresenceService.signToken.
    const { token } = (await (await fetch(`http://127.0.0.1:${port}/presence/ada/token`)).json()) as { token: string };
    sockets.push(await connectTo(port, { authKey: AUTH_KEY, signedToken: token }));
    expect(sockets[1].authState).toBe('authenticated');
    await eventually(async () => {
      const body = await (await fetch(`http://127.0.0.1:${port}/presence/ada`)).json();
      expect(body, app.output).toEqual({ status: 'online', users: 1 });
    }, 10_000, 50);
    // Each socket's row is written in its own flush window: wait for both rather than for the status alone.
    const ids = sockets.map((socket) => String(socket.id)).sort();
    const expected = ids.map((socket) => ({ socket, user: 'ada' }));
    await eventually(async () => expect(backend === 'mariadb' ? await mysqlRows() : sqliteRows(sqliteFile), app.output).toEqual(expected), 10_000, 50);
    expect(app.lines(/^hook /), app.output).toEqual(['hook user.online ada connect']);
    // Nothing to warn of in an installed app, e.g. SQLite's checkpoint thread finding its driver from the package.
    expect(app.lines(/\bWARN\b/), app.output).toEqual([]);
  }, 60_000);
});

const ROWS_SQL = `SELECT SCP_socket_id AS socket, SCP_user_id AS user FROM ${TABLE} WHERE SCP_channel = '_SCPRESENCE' ORDER BY SCP_socket_id`;

async function mysqlRows(): Promise<unknown[]> {
  const db = await mysql.createConnection({ uri: CONSUMER_URL.toString() });
  try {
    const [rows] = await db.query(ROWS_SQL);
    return rows as unknown[];
  } finally {
    await db.end();
  }
}

/** The test's own better-sqlite3, as another process reading the app's file. */
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string, options: object) => {
  prepare(sql: string): { all(): unknown[] };
  close(): void;
};

function sqliteRows(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(ROWS_SQL).all();
  } finally {
    db.close();
  }
}
