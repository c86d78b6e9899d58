import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { SAFETY_CHECKPOINT_PAGES, SqliteCheckpointThread } from '../../src/store/sqlite-checkpoint.thread.js';
import { connectClient, subscribe } from '../support/clients.js';
import { eventually, fastOptions, startPresenceApp } from '../support/presence-app.js';

/** The part of better-sqlite3 these tests use (the package has no types of its own). */
interface Connection {
  readonly name: string;
  readonly memory: boolean;
  readonly open: boolean;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(sql: string): void;
  prepare(sql: string): { run(...params: unknown[]): unknown };
  transaction(fn: () => void): () => void;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => Connection;

const dirs: string[] = [];
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scp-checkpoint-'));
  dirs.push(dir);
  return join(dir, 'presence.sqlite');
}

/** A connection as the module's defaults open one: WAL, synchronous=NORMAL, with a table to write to. */
function openWal(file: string): Connection {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  cleanups.push(() => db.open && db.close());
  return db;
}

const autocheckpoint = (db: Connection) => db.pragma('wal_autocheckpoint', { simple: true }) as number;
const walBytes = (file: string) => statSync(`${file}-wal`).size;

function writeRows(db: Connection, transactions: number): void {
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < transactions; i++) db.transaction(() => { for (let j = 0; j < 50; j++) insert.run('x'.repeat(200)); })();
}

describe('SQLite checkpoints in a thread', () => {
  it('copies the log into the file from its own thread, while the event loop does not checkpoint', async () => {
    const file = sqliteFile();
    const db = openWal(file);
    const failures: string[] = [];
    const thread = new SqliteCheckpointThread(db, (reason) => failures.push(reason), { intervalMs: 20 });
    cleanups.push(() => thread.stop());
    thread.start();
    await eventually(() => expect(autocheckpoint(db)).toBe(SAFETY_CHECKPOINT_PAGES));
    const before = statSync(file).size;
    // 40 transactions, some hundred pages of log: under the event loop's threshold, so whatever reaches the file is
    // the thread's copy (which may begin while the writes go on).
    writeRows(db, 40);
    await eventually(() => expect(statSync(file).size).toBeGreaterThan(before + 300_000));
    expect(failures).toEqual([]);
    // The same writes on a file without the thread, at the same threshold: the file is as it was.
    const alone = sqliteFile();
    const control = openWal(alone);
    control.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
    const size = statSync(alone).size;
    writeRows(control, 40);
    expect(walBytes(alone)).toBeGreaterThan(300_000);
    expect(statSync(alone).size).toBe(size);
  });

  it('gives the event loop its checkpoints back when the thread cannot open the file', async () => {
    const db = openWal(sqliteFile());
    const failures: string[] = [];
    const thread = new SqliteCheckpointThread(db, (reason) => failures.push(reason), { intervalMs: 20, driver: '/nonexistent/better-sqlite3' });
    cleanups.push(() => thread.stop());
    thread.start();
    await eventually(() => expect(failures).toHaveLength(1));
    expect(failures[0]).toMatch(/Cannot find module/);
    expect(autocheckpoint(db)).toBe(1000);
  });

  it('closes its connection when stopped: the event loop then checkpoints, and its close removes the log', async () => {
    const file = sqliteFile();
    const db = openWal(file);
    const thread = new SqliteCheckpointThread(db, () => undefined, { intervalMs: 20 });
    thread.start();
    await eventually(() => expect(autocheckpoint(db)).toBe(SAFETY_CHECKPOINT_PAGES));
    await thread.stop();
    expect(autocheckpoint(db)).toBe(1000);
    writeRows(db, 2);
    expect(walBytes(file)).toBeGreaterThan(0);
    db.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('runs for a SQLite file of the module, and ends with the app', async () => {
    const file = sqliteFile();
    const options = fastOptions('sqlite', { database: { type: 'better-sqlite3', database: file } });
    const app = await startPresenceApp(options);
    let closed = false;
    cleanups.push(() => !closed && app.close());
    const handle = (app.presence as unknown as { store: { connection: { driver: { databaseConnection: Connection } } } }).store.connection.driver.databaseConnection;
    await eventually(() => expect(autocheckpoint(handle)).toBe(SAFETY_CHECKPOINT_PAGES));
    const client = await connectClient(app.port, app.server, { token: { user_id: 'ada' } });
    cleanups.push(() => client.disconnect());
    await subscribe(client, 'room');
    await eventually(async () => expect(await app.sql(`SELECT 1 FROM "${app.table}"`)).toHaveLength(2));
    expect(existsSync(`${file}-wal`)).toBe(true);
    client.disconnect();
    await app.close();
    closed = true;
    // The thread's connection was closed before the module's: the module's was the file's last.
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('leaves an in-memory database alone', async () => {
    const db = new Database(':memory:');
    cleanups.push(() => db.close());
    const thread = new SqliteCheckpointThread(db, () => undefined, { intervalMs: 20 });
    thread.start();
    await thread.stop();
    expect(autocheckpoint(db)).toBe(1000);
  });
});
