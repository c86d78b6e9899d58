import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { MYSQL_URL, type Backend } from './presence-app.js';

/** A SQLite file of its own for a test that must read the table after the app (and its connection) is gone. */
export function tempSqliteFile(): { path: string; remove(): void } {
  const path = join(tmpdir(), `scp-${randomBytes(5).toString('hex')}.sqlite`);
  return {
    path,
    remove: () => {
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
    },
  };
}

/** A connection of its own to the database an app uses: what another service reading the table would have. */
export async function openOutsideConnection(backend: Backend, sqliteFile?: string): Promise<DataSource> {
  const ds =
    backend === 'mariadb'
      ? new DataSource({ type: 'mysql', url: MYSQL_URL })
      : new DataSource({ type: 'better-sqlite3', database: sqliteFile ?? ':memory:' });
  await ds.initialize();
  return ds;
}

/** Counts of the handle kinds that a leaked timer, server or socket would leave behind. */
export function activeHandles(): { timeouts: number; servers: number; sockets: number } {
  const info = process.getActiveResourcesInfo();
  return {
    timeouts: info.filter((r) => r === 'Timeout').length,
    servers: info.filter((r) => r === 'TCPServerWrap').length,
    sockets: info.filter((r) => r === 'TCPSocketWrap').length,
  };
}
