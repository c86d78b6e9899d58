import 'reflect-metadata';
import { DataSource, type DataSourceOptions, type MigrationInterface, type QueryRunner } from 'typeorm';
import { assertDatabaseDriver } from '../database-driver.check.js';
import { presenceMigrations } from './index.js';

export interface MigrateArgs {
  url: string;
  table: string;
  dryRun: boolean;
  print: (line: string) => void;
}

/** `mysql://…`, `mariadb://…` or `sqlite:<file>` as TypeORM options, with one migrations table per presence table. */
export function dataSourceOptions(url: string, table: string): DataSourceOptions {
  const migrationsTableName = `${table}_migrations`;
  if (url.startsWith('sqlite:')) {
    return { type: 'better-sqlite3', database: url.slice('sqlite:'.length), migrationsTableName };
  }
  const type = url.startsWith('mariadb:') ? 'mariadb' : url.startsWith('mysql:') ? 'mysql' : undefined;
  if (!type) throw new Error(`--url must start with mysql://, mariadb:// or sqlite: (got '${url.slice(0, 40)}')`);
  return { type, url: type === 'mariadb' ? `mysql:${url.slice('mariadb:'.length)}` : url, timezone: 'Z', charset: 'utf8mb4', migrationsTableName };
}

/** The module's migrations bound to one table name (TypeORM constructs migrations without arguments). */
function boundMigrations(table: string): Array<new () => MigrationInterface> {
  return presenceMigrations.map((Migration: new (tableName: string) => MigrationInterface) => class extends Migration {
    constructor() {
      super(table);
    }
  });
}

/**
 * Runs the migrations TypeORM's way (recorded in `<table>_migrations`, each in a transaction where the
 * database has transactional DDL), or with `dryRun` prints the statements they would run now: reads
 * (SELECT, SHOW) go to the database, so the output matches what it already has, and nothing is written.
 */
export async function migrate({ url, table, dryRun, print }: MigrateArgs): Promise<void> {
  const options = dataSourceOptions(url, table);
  assertDatabaseDriver(options.type);
  const dataSource = new DataSource({ ...options, migrations: boundMigrations(table) });
  await dataSource.initialize();
  try {
    if (!dryRun) {
      const done = await dataSource.runMigrations({ transaction: 'each' });
      print(done.length ? `applied ${done.map((m) => m.name).join(', ')} to '${table}'` : `'${table}' is up to date: nothing to apply`);
      return;
    }
    const runner = dataSource.createQueryRunner();
    try {
      const recording = recordingRunner(runner, print);
      for (const Migration of presenceMigrations) {
        print(`-- ${Migration.name}`);
        await new Migration(table).up(recording);
      }
    } finally {
      await runner.release();
    }
  } finally {
    await dataSource.destroy();
  }
}

/** A query runner that answers reads and prints every other statement instead of running it. */
function recordingRunner(runner: QueryRunner, print: (line: string) => void): QueryRunner {
  return new Proxy(runner, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver);
      return async (sql: string, parameters?: unknown[]) => {
        if (/^\s*(SELECT|SHOW|PRAGMA)\b/i.test(sql)) return target.query(sql, parameters);
        print(`${sql.trim()};`);
        return [];
      };
    },
  });
}
