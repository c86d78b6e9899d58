import 'reflect-metadata';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import type { AGClientSocket } from 'socketcluster-client';
import { afterEach } from 'vitest';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import type { AGServer } from 'socketcluster-server';
import { PresenceModule, PresenceService, type PresenceModuleOptions } from '../../src/index.js';
import { connectClient, disconnectAll, type ClientOptions } from './clients.js';
import { MYSQL_URL, dropTables } from './waits-and-tables.js';

export { MYSQL_URL, dropTables, eventually } from './waits-and-tables.js';

export type Backend = 'sqlite' | 'mariadb';
export const BACKENDS: Backend[] = (process.env.PRESENCE_TEST_BACKENDS?.split(',') as Backend[]) ?? ['sqlite', 'mariadb'];

/** A table name of its own for each app, so that test files can share the MariaDB server. */
export function uniqueTable(prefix = 'scp'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export function databaseOptions(backend: Backend, sqliteFile?: string): PresenceModuleOptions['database'] {
  return backend === 'mariadb'
    ? { type: 'mysql', url: MYSQL_URL }
    : { type: 'better-sqlite3', database: sqliteFile ?? ':memory:' };
}

/** Options that make a test fast: no quiet period, no connect delay, a short flush. */
export function fastOptions(backend: Backend, extra: PresenceModuleOptions = {}): PresenceModuleOptions {
  return {
    database: databaseOptions(backend),
    tableName: uniqueTable(),
    flushIntervalMs: 5,
    ...extra,
    usercount: extra.usercount === false ? false : { startupQuietMs: 0, connectDelayMs: 0, ...(extra.usercount || {}) },
  };
}

export interface PresenceApp {
  app: INestApplication;
  port: number;
  presence: PresenceService;
  server: AGServer;
  options: PresenceModuleOptions;
  /** Plain SQL against the module's own connection (what another service would run). */
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  table: string;
  close(): Promise<void>;
}

/** Boots a real Nest app with PresenceModule on an ephemeral port. */
export async function startPresenceApp(
  options: PresenceModuleOptions,
  metadata: ModuleMetadata = {},
): Promise<PresenceApp> {
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [PresenceModule.forRoot(options), ...(metadata.imports ?? [])],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: process.env.PRESENCE_TEST_LOGS ? undefined : false });
  await app.listen(0, '127.0.0.1');
  return wrap(app, options);
}

export function wrap(app: INestApplication, options: PresenceModuleOptions): PresenceApp {
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const presence = app.get(PresenceService);
  const dataSource = (presence as unknown as { store: { connection: DataSource } }).store.connection;
  let closed = false;
  return {
    app,
    port,
    presence,
    server: presence.server,
    options,
    table: options.tableName ?? 'SCPresence_users',
    sql: (query, params = []) => dataSource.query(query, params),
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The per-test life of an app for `describe.each(BACKENDS)`: after each test its client sockets are closed,
 * the app is closed and (on MariaDB) its tables are dropped.
 */
export function presenceTestBed(backend: Backend) {
  const sockets: AGClientSocket[] = [];
  const cleanups: Array<() => void> = [];
  let current: PresenceApp | undefined;

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await disconnectAll(...sockets.splice(0));
    await current?.close();
    if (current && backend === 'mariadb') await dropTables(current.table);
    current = undefined;
  });

  return {
    /** Starts an app with the fast test options plus `extra`. */
    async start(extra: PresenceModuleOptions = {}, metadata: ModuleMetadata = {}): Promise<PresenceApp> {
      current = await startPresenceApp(fastOptions(backend, extra), metadata);
      return current;
    },
    /** Takes charge of an app started another way (e.g. with a gateway adapter). */
    adopt(app: PresenceApp): PresenceApp {
      current = app;
      return app;
    },
    /** A connected client of the current app, closed after the test. */
    async connect(options: ClientOptions = {}): Promise<AGClientSocket> {
      if (!current) throw new Error('start an app first');
      return this.track(await connectClient(current.port, current.server, options));
    },
    track(socket: AGClientSocket): AGClientSocket {
      sockets.push(socket);
      return socket;
    },
    onCleanup(cleanup: () => void): void {
      cleanups.push(cleanup);
    },
  };
}
