import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, sleep } from '../support/presence-app.js';
import { eventsOf, isCleanup, spawnInstance, startInstance } from './support/cluster.js';
import { closeSockets, connectMany } from './support/clients.js';
import { killAllStarted } from './support/processes.js';
import type { InstanceConfig } from './support/protocol.js';
import { toSqlTime } from '../../src/store/sql.dialect.js';

/*
 * Presence processes of one host on one SQLite file (test/cluster/fixtures/presence-instance.ts with
 * `sqliteFile`). SQLite has no named lock to make a cold start's check and registration one step, as MySQL's
 * GET_LOCK does; this is what stands in for it.
 */
const AUTH_KEY = randomBytes(16).toString('hex');
const TABLE = 'SCPresence_users';


/** Whether process `pid` has `file` open (the SQLite file itself). */
function hasOpen(pid: number, file: string): boolean {
  const real = realpathSync(file); // what /proc shows, with any symlink of the temp dir resolved
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === real;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

describe.sequential('presence processes on one SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scp-sqlite-cluster-'));
  const file = join(dir, 'presence.sqlite');
  const config: InstanceConfig = { databaseUrl: '', sqliteFile: file, tableName: TABLE, authKey: AUTH_KEY };

  afterAll(async () => {
    await killAllStarted();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('cold start: of two instances that start while the file is busy, with old rows in it, exactly one drops them', async () => {
    // An instance that made the tables and then died with its users' rows: killed, so its lease stays.
    const old = await startInstance('O', config);
    const sockets = await connectMany(['u1', 'u2', 'u3'].map((userId) => ({ port: old.port, userId })), AUTH_KEY);
    // The test's own connection to the file, as another program on the host would have.
    const db = new DataSource({ type: 'better-sqlite3', database: file });
    await db.initialize();
    const count = async (where = '', params: unknown[] = []) => Number((await db.query(`SELECT COUNT(*) AS n FROM "${TABLE}" ${where}`, params))[0].n);
    try {
      await eventually(async () => expect(await count('WHERE SCP_instance_id = ?', [old.id])).toBe(3), 10_000, 20);
      await old.process.kill('SIGKILL');
      closeSockets(sockets);
      // Long dead: its lease expired an hour ago.
      const anHourAgo = toSqlTime(new Date(Date.now() - 3_600_000));
      await db.query(`UPDATE "${TABLE}_instances" SET SCP_heartbeat = ?`, [anHourAgo]);
      await db.query(`UPDATE "${TABLE}" SET SCP_updated = ?`, [anHourAgo]);

      // The file's write lock is held (as a long write of another process would) while two instances start: each
      // gets as far as its first write of the startup, and they go on one after the other once the lock is free.
      await db.query('BEGIN IMMEDIATE');
      const starting = ['P', 'Q'].map((name) => spawnInstance(name, config));
      try {
        await eventually(() => expect(starting.every((s) => hasOpen(s.process.pid, file))).toBe(true), 30_000, 20);
        await sleep(1500);
      } finally {
        await db.query('COMMIT');
      }
      const started = await Promise.all(starting.map((s) => s.ready));
      const cleanups = () => eventsOf(started).filter((a) => isCleanup(a.event)).map((a) => a.from.name);
      await eventually(() => expect(cleanups().length).toBeGreaterThan(0), 10_000, 20);
      await sleep(1000); // a second one, if any, has come by now: both registered before they were ready

      expect(cleanups()).toHaveLength(1);
      expect(await count()).toBe(0);
      const leases = (await db.query(`SELECT SCP_instance_id AS id FROM "${TABLE}_instances" ORDER BY id`)) as Array<{ id: string }>;
      expect(leases.map((l) => l.id)).toEqual(started.map((i) => i.id).sort());
      const statuses = await db.query(`SELECT SCP_user_id AS u, SCP_status AS s FROM "${TABLE}_status" ORDER BY u`);
      expect(statuses).toEqual([{ u: 'u1', s: 'offline' }, { u: 'u2', s: 'offline' }, { u: 'u3', s: 'offline' }]);
    } finally {
      await db.destroy();
    }
  }, 90_000);
});
