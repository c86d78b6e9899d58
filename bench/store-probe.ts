/**
 * What the store capacity bench observes of one store: a TypeORM logger that counts statements and keeps the
 * last ones with their parameters (so that the exact SQL of a periodic operation can be EXPLAINed), and the
 * store built on it.
 */
import os from 'node:os';
import type { ModuleRef } from '@nestjs/core';
import type { Logger as OrmLogger } from 'typeorm';
import { PresenceConfig } from '../src/options/presence.config.js';
import { PresenceStore } from '../src/store/presence.store.js';
import { presenceTableNames } from '../src/store/presence.tables.js';

export type Backend = 'sqlite' | 'mariadb';

export interface Statement {
  sql: string;
  params: unknown[];
}

export class StatementLog implements OrmLogger {
  total = 0;
  last: Statement[] = [];
  private keeping = false;

  logQuery(query: string, parameters?: unknown[]): void {
    this.total++;
    if (this.keeping) this.last.push({ sql: query, params: parameters ?? [] });
  }

  /** Runs `work` and returns its statements, its time and the load average when it ended. */
  async measure<T>(work: () => Promise<T>): Promise<{ result: T; statements: Statement[]; ms: number; load: number }> {
    this.last = [];
    this.keeping = true;
    const start = performance.now();
    try {
      const result = await work();
      return { result, statements: this.last, ms: performance.now() - start, load: os.loadavg()[0] };
    } finally {
      this.keeping = false;
    }
  }

  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

export async function openStore(backend: Backend, tableName: string, mysqlUrl: string, sqliteFile: string, log: StatementLog): Promise<PresenceStore> {
  const database = backend === 'mariadb' ? { type: 'mysql' as const, url: mysqlUrl, logger: log } : { type: 'better-sqlite3' as const, database: sqliteFile, logger: log };
  // No shared DataSource: the module reference is never asked for one.
  const store = new PresenceStore(new PresenceConfig({ database, tableName }), {} as ModuleRef);
  await store.init();
  return store;
}

export async function dropTables(store: PresenceStore, tableName: string): Promise<void> {
  for (const table of Object.values(presenceTableNames(tableName))) {
    const quoted = store.isSqlite ? `"${table}"` : `\`${table}\``;
    await store.connection.query(`DROP TABLE IF EXISTS ${quoted}`);
  }
}

/** The plan of each statement that reads or writes rows (not transaction control). */
export async function explain(store: PresenceStore, statements: Statement[]): Promise<Array<{ sql: string; plan: string }>> {
  const out: Array<{ sql: string; plan: string }> = [];
  const seen = new Set<string>();
  for (const { sql, params } of statements) {
    const text = sql.replace(/\s+/g, ' ').trim();
    if (!/^(SELECT|UPDATE|DELETE|INSERT)/i.test(text) || /^SELECT (GET|RELEASE)_LOCK/i.test(text) || seen.has(text)) continue;
    seen.add(text);
    const rows = (await store.connection.query(`${store.isSqlite ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN'} ${sql}`, params)) as Array<Record<string, unknown>>;
    const plan = store.isSqlite
      ? rows.map((r) => String(r.detail)).join('; ')
      : rows.map((r) => `${r.table}: type=${r.type} key=${r.key ?? 'NULL'} rows=${r.rows}${r.Extra ? ` (${r.Extra})` : ''}`).join('; ');
    out.push({ sql: text.length > 220 ? `${text.slice(0, 217)}...` : text, plan });
  }
  return out;
}
