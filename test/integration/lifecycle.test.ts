import 'reflect-metadata';
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { AGClientSocket } from 'socketcluster-client';
import { DataSource } from 'typeorm';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PresenceConfigError, PresenceModule, PresenceService, type PresenceModuleOptions,
} from '../../src/index.js';
import {
  BACKENDS, databaseOptions, dropTables, eventually, fastOptions, MYSQL_URL, startPresenceApp, uniqueTable, wrap,
  type PresenceApp,
} from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';
import {
  activeHandles, closeClients, openOutsideConnection, settledHandles, tempSqliteFile, tryConnect,
} from '../support/outside-view.js';
import { listenAgServer as ownServer } from '../support/own-server.js';
import { toSqlTime } from '../../src/store/sql.dialect.js';

interface Row {
  SCP_socket_id: string;
  SCP_user_id: string | null;
  SCP_channel: string;
  SCP_instance_id: string;
}


/** A config module of the application's own, as `ConfigModule` would be. */
const PRESENCE_SETTINGS = 'PRESENCE_SETTINGS';

@Injectable()
class AppSettings {
  constructor(@Inject(PRESENCE_SETTINGS) readonly presence: PresenceModuleOptions) {}
}

/** Any other module of the app: it gets PresenceService without importing PresenceModule (isGlobal). */
@Injectable()
class Consumer {
  constructor(readonly presence: PresenceService) {}
}

@Module({ providers: [Consumer], exports: [Consumer] })
class ConsumerModule {}

describe.each(BACKENDS)('module lifecycle (%s)', (backend) => {
  let ctx: PresenceApp | undefined;
  const apps: INestApplication[] = [];
  const sockets: AGClientSocket[] = [];
  const tables: string[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    if (ctx) tables.push(ctx.table);
    ctx = undefined;
    for (const app of apps.splice(0)) await app.close().catch(() => undefined);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    if (backend === 'mariadb') for (const table of tables.splice(0)) await dropTables(table);
  });

  /** Compiles an app with PresenceModule and expects `app.init()` (not compile) to fail. */
  async function initError(imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>): Promise<Error> {
    const moduleRef = await Test.createTestingModule({ imports }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    const error = await app.init().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error, 'app.init() should have failed').toBeInstanceOf(Error);
    return error!;
  }

  describe('options validation', () => {
    const cases: Array<[string, PresenceModuleOptions, string]> = [
      ['usercount.type', { usercount: { type: 'bogus' as never } }, 'usercount.type'],
      ['gc.thresholdMs', { gc: { thresholdMs: 10 } }, 'gc.thresholdMs'],
      ['gc.intervalMs', { gc: { intervalMs: -5 } }, 'gc.intervalMs'],
      ['gc.enabled', { gc: { enabled: 'sometimes' as never } }, 'gc.enabled'],
      ['heartbeat.pingsPerUpdate', { heartbeat: { pingsPerUpdate: 0 } }, 'heartbeat.pingsPerUpdate'],
      ['tableName', { tableName: 'users; DROP TABLE users' }, 'tableName'],
      ['userIdField', { userIdField: 42 as never }, 'userIdField'],
      ['offlineGraceMs', { offlineGraceMs: -1 }, 'offlineGraceMs'],
      ['usercount.connectDelayMs', { usercount: { connectDelayMs: 'soon' as never } }, 'usercount.connectDelayMs'],
      ['database.type', { database: { type: 'postgres' } as never }, 'database.type'],
      ['database.url', { database: { type: 'mysql', url: undefined } }, "database.url must be a connection URL such as mysql://user:password@host:3306/database (set the variable it comes from?) (got undefined)"],
      ['an unknown option', { tablename: 'x' } as never, 'tablename'],
    ];

    it.each(cases)('fails app.init() with a PresenceConfigError naming %s', async (_label, bad, named) => {
      const table = uniqueTable();
      tables.push(table);
      const options = { database: databaseOptions(backend), tableName: table, ...bad };
      const error = await initError([PresenceModule.forRoot(options)]);
      expect(error).toBeInstanceOf(PresenceConfigError);
      expect(error.name).toBe('PresenceConfigError');
      expect(error.message).toContain(named);
    });

    it('reports every bad option at once, also through forRootAsync', async () => {
      const error = await initError([
        PresenceModule.forRootAsync({
          useFactory: async () => ({ database: databaseOptions(backend), usercount: { type: 'bogus' as never }, gc: { thresholdMs: 10 } }),
        }),
      ]);
      expect(error).toBeInstanceOf(PresenceConfigError);
      expect(error.message).toContain('usercount.type');
      expect(error.message).toContain('gc.thresholdMs');
    });

    it('creates no table when the options are invalid', async () => {
      const table = uniqueTable();
      tables.push(table);
      const file = tempSqliteFile();
      cleanups.push(() => file.remove());
      await initError([
        PresenceModule.forRoot({ database: databaseOptions(backend, file.path), tableName: table, usercount: { type: 'bogus' as never } }),
      ]);
      const outside = await openOutsideConnection(backend, file.path);
      try {
        const found =
          backend === 'mariadb'
            ? await outside.query('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?', [`${table}%`])
            : await outside.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?`, [`${table}%`]);
        expect(found).toEqual([]);
      } finally {
        await outside.destroy();
      }
    });
  });

  it('forRootAsync takes its options from a provider of another module', async () => {
    const table = uniqueTable();
    const settings = fastOptions(backend, { tableName: table, userIdField: 'sub' });
    @Module({
      providers: [{ provide: PRESENCE_SETTINGS, useValue: settings }, AppSettings],
      exports: [AppSettings],
    })
    class SettingsModule {}

    let calls = 0;
    const moduleRef = await Test.createTestingModule({
      imports: [
        PresenceModule.forRootAsync({
          imports: [SettingsModule],
          inject: [AppSettings],
          useFactory: async (appSettings: AppSettings) => {
            calls++;
            return appSettings.presence;
          },
        }),
        ConsumerModule,
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    ctx = wrap(app, settings);
    expect(calls).toBe(1);
    expect(app.get(Consumer).presence).toBe(ctx.presence);

    const socket = await connectClient(ctx.port, ctx.server, { token: { sub: 'from-factory' } });
    sockets.push(socket);
    await subscribe(socket, 'room');
    await eventually(async () => {
      const rows = await ctx!.sql<Row>(`SELECT * FROM ${table} WHERE SCP_socket_id = ?`, [socket.id]);
      expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'room']);
      expect(rows.map((r) => r.SCP_user_id)).toEqual(['from-factory', 'from-factory']);
    });
    expect(await app.get(Consumer).presence.getUserStatus('from-factory')).toBe('online');
  });

  it("app.close() removes its lease but not other instances' rows, closes its server and leaves no timers or sockets", async () => {
    const before = await settledHandles();
    const file = tempSqliteFile();
    cleanups.push(() => file.remove());
    ctx = await startPresenceApp(
      fastOptions(backend, {
        database: databaseOptions(backend, file.path),
        socketcluster: { pingInterval: 200, pingTimeout: 2000 },
        heartbeat: { pingsPerUpdate: 2 },
        gc: { intervalMs: 100, thresholdMs: 60_000 },
        usercount: { startupQuietMs: 50_000, connectDelayMs: 20 },
      }),
    );
    const { port, table } = ctx;
    const a = await connectClient(port, ctx.server, { token: { user_id: 'ann' } });
    const b = await connectClient(port, ctx.server);
    sockets.push(a, b);
    await subscribe(a, 'room');
    await subscribe(b, 'room');
    const instanceId = await eventually(async () => {
      const rows = await ctx!.sql<Row>(`SELECT * FROM ${table}`);
      expect(rows).toHaveLength(4);
      return rows[0].SCP_instance_id;
    });
    const leases = await ctx.sql<{ SCP_instance_id: string }>(`SELECT SCP_instance_id FROM ${table}_instances`);
    expect(leases.map((l) => l.SCP_instance_id)).toEqual([instanceId]);

    // Rows of another (live) instance sharing the table: they must survive this instance's shutdown.
    const now = toSqlTime(new Date());
    await ctx.sql(
      `INSERT INTO ${table}_instances (SCP_instance_id, SCP_host, SCP_pid, SCP_started, SCP_heartbeat) VALUES (?, ?, ?, ?, ?)`,
      ['other-instance', 'elsewhere', 1, now, now],
    );
    await ctx.sql(
      `INSERT INTO ${table} (SCP_socket_id, SCP_user_id, SCP_channel, SCP_updated, SCP_instance_id, SCP_status, SCP_connected)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ['other-socket', 'zoe', '_SCPRESENCE', now, 'other-instance', 'online', now],
    );

    await ctx.close();

    // The server went with the app: its sockets were closed and a reconnect attempt fails.
    await eventually(() => {
      expect(a.state).toBe(a.CLOSED);
      expect(b.state).toBe(b.CLOSED);
    });
    expect(await tryConnect(a)).toBeInstanceOf(Error);
    expect(await tryConnect(port)).toBeInstanceOf(Error);
    // The test's own client sockets (and the helpers' pending listeners) go before the count.
    closeClients(...sockets.splice(0));

    const outside = await openOutsideConnection(backend, file.path);
    try {
      const rows = await outside.query(`SELECT SCP_socket_id, SCP_instance_id FROM ${table} WHERE SCP_instance_id <> ?`, [instanceId]);
      expect(rows).toEqual([{ SCP_socket_id: 'other-socket', SCP_instance_id: 'other-instance' }]);
      const left = await outside.query(`SELECT SCP_instance_id FROM ${table}_instances`);
      expect(left).toEqual([{ SCP_instance_id: 'other-instance' }]);
    } finally {
      await outside.destroy();
    }

    await eventually(() => {
      const after = activeHandles();
      expect(after.timeouts, 'timers').toBeLessThanOrEqual(before.timeouts);
      expect(after.servers, 'listening servers').toBeLessThanOrEqual(before.servers);
      expect(after.sockets, 'TCP sockets').toBeLessThanOrEqual(before.sockets);
    }, 5000);
  });

  describe('with an AGServer passed in as `server`', () => {
    const listenAgServer = () => ownServer(cleanups);

    it('tracks its sockets, also those connected before the app started, and app.close() leaves it running', async () => {
      const { server, port } = await listenAgServer();
      const early = await connectClient(port, server, { token: { user_id: 'early' } });
      sockets.push(early);
      await subscribe(early, 'before-start');

      ctx = await startPresenceApp(fastOptions(backend, { server }));
      expect(ctx.server).toBe(server);
      const table = ctx.table;
      await eventually(async () => {
        const rows = await ctx!.sql<Row>(`SELECT * FROM ${table} WHERE SCP_socket_id = ?`, [early.id]);
        expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'before-start']);
        expect(rows.map((r) => r.SCP_user_id)).toEqual(['early', 'early']);
      });

      const late = await connectClient(port, server, { token: { user_id: 'late' } });
      sockets.push(late);
      await subscribe(late, 'after-start');
      await eventually(async () => {
        const rows = await ctx!.sql<Row>(`SELECT * FROM ${table} WHERE SCP_socket_id = ?`, [late.id]);
        expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'after-start']);
      });
      expect(await ctx.presence.count('users')).toBe(2);

      // The pre-existing socket leaving is followed too.
      early.disconnect();
      await eventually(async () => expect(await ctx!.sql(`SELECT * FROM ${table} WHERE SCP_socket_id = ?`, [early.id])).toEqual([]));

      await ctx.close();
      // The server is the application's: still listening, its sockets still open and usable.
      expect(server.isReady).toBe(true);
      expect(late.state).toBe(late.OPEN);
      expect(Object.keys(server.clients)).toContain(late.id);
      const after = await connectClient(port, server, {});
      sockets.push(after);
      await subscribe(after, 'after-close');
      expect(after.state).toBe(after.OPEN);
    });
  });

  describe("with database: { dataSourceName } and TypeOrmModule", () => {
    const typeOrmOptions = (name?: string) =>
      backend === 'mariadb'
        ? { name, type: 'mysql' as const, url: MYSQL_URL }
        : { name, type: 'better-sqlite3' as const, database: ':memory:' };

    async function start(name: string | undefined, dataSourceName: string) {
      const table = uniqueTable();
      tables.push(table);
      const options: PresenceModuleOptions = { database: { dataSourceName }, tableName: table, flushIntervalMs: 5, usercount: false };
      const moduleRef = await Test.createTestingModule({
        imports: [TypeOrmModule.forRoot(typeOrmOptions(name)), PresenceModule.forRoot(options)],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.listen(0, '127.0.0.1');
      return wrap(app, options);
    }

    async function tablesIn(dataSource: DataSource, table: string): Promise<string[]> {
      const rows: Array<{ name: string }> =
        backend === 'mariadb'
          ? await dataSource.query(
              'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?',
              [`${table}%`],
            )
          : await dataSource.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?`, [`${table}%`]);
      return rows.map((r) => r.name).sort();
    }

    it("uses the app's default connection and creates its tables on it", async () => {
      ctx = await start(undefined, 'default');
      const shared = ctx.app.get<DataSource>(getDataSourceToken());
      expect(shared).toBeInstanceOf(DataSource);
      expect((ctx.presence as unknown as { store: { connection: DataSource } }).store.connection).toBe(shared);
      expect(await tablesIn(shared, ctx.table)).toEqual(
        [ctx.table, `${ctx.table}_instances`, `${ctx.table}_status`, `${ctx.table}_members`, `${ctx.table}_channels`, `${ctx.table}_history`].sort(),
      );

      const socket = await connectClient(ctx.port, ctx.server, { token: { user_id: 'shared-conn' } });
      sockets.push(socket);
      await subscribe(socket, 'room');
      await eventually(async () => {
        const rows: Row[] = await shared.query(`SELECT * FROM ${ctx!.table} WHERE SCP_socket_id = ?`, [socket.id]);
        expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'room']);
      });
      expect(await ctx.presence.getUserStatus('shared-conn')).toBe('online');
      // Closing the app goes cleanly although the connection belongs to TypeOrmModule (closed after presence).
      await ctx.close();
      expect(shared.isInitialized).toBe(false);
    });

    it('uses a named connection', async () => {
      ctx = await start('presence', 'presence');
      const named = ctx.app.get<DataSource>(getDataSourceToken('presence'));
      expect((ctx.presence as unknown as { store: { connection: DataSource } }).store.connection).toBe(named);
      expect(await tablesIn(named, ctx.table)).toContain(ctx.table);
    });

    it('fails app.init() when the named connection does not exist', async () => {
      const table = uniqueTable();
      tables.push(table);
      const error = await initError([
        TypeOrmModule.forRoot(typeOrmOptions()),
        PresenceModule.forRoot({ database: { dataSourceName: 'missing' }, tableName: table }),
      ]);
      expect(error).toBeInstanceOf(PresenceConfigError);
      expect(error.message).toContain("database.dataSourceName 'missing' names no TypeORM DataSource: import TypeOrmModule.forRoot() with that name");
    });
  });
});
