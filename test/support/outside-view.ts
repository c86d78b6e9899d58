import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
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

/**
 * Handle counts once what earlier tests closed has finished closing (sockets and servers close asynchronously):
 * the baseline a leak check compares against. Waits at most `timeoutMs`, then returns what there is.
 */
export async function settledHandles(timeoutMs = 3000): Promise<ReturnType<typeof activeHandles>> {
  const deadline = Date.now() + timeoutMs;
  let handles = activeHandles();
  while ((handles.servers > 0 || handles.sockets > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    handles = activeHandles();
  }
  return handles;
}

/**
 * One connection attempt that leaves no timer or listener behind: a new socketcluster-client socket to `port`, or
 * a reconnect of a closed `socket`. Resolves with 'connected' or with the error; the socket is closed either way.
 */
export async function tryConnect(target: number | AGClientSocket): Promise<'connected' | Error> {
  const socket =
    typeof target === 'number'
      ? socketClusterClient.create({ hostname: '127.0.0.1', port: target, path: '/socketcluster/', autoReconnect: false, connectTimeout: 3000 })
      : target;
  try {
    return await new Promise<'connected' | Error>((resolve) => {
      void (async () => {
        for await (const _ of socket.listener('connect')) return resolve('connected');
      })();
      void (async () => {
        for await (const { error } of socket.listener('error')) return resolve(error);
      })();
      void (async () => {
        for await (const { code } of socket.listener('close')) return resolve(new Error(`closed with code ${code}`));
      })();
      if (typeof target !== 'number') socket.connect();
    });
  } finally {
    socket.disconnect();
    socket.killAllListeners();
  }
}

/** Disconnects client sockets and ends every listener on them and their channels, timers included. */
export function closeClients(...sockets: AGClientSocket[]): void {
  for (const socket of sockets) {
    socket.disconnect();
    socket.killAllChannels();
    socket.killAllListeners();
  }
}
