import type { DataSource } from 'typeorm';
import { PresenceDatabaseError } from '../presence.errors.js';
import { DATABASE_ADVICE, DATABASE_NOT_OPENED } from '../presence.messages.js';

type ConnectionOptions = {
  type?: unknown;
  url?: unknown;
  host?: unknown;
  port?: unknown;
  database?: unknown;
};

/** Where the options point, for a message: a URL with its password masked, host:port/database, or the SQLite file. */
function describeTarget(options: ConnectionOptions): string {
  const type = String(options.type);
  if (type === 'better-sqlite3') return `SQLite ${String(options.database ?? ':memory:')}`;
  if (typeof options.url === 'string' && options.url !== '') {
    try {
      const url = new URL(options.url);
      if (url.password) url.password = '***';
      return `${type} ${url.toString()}`;
    } catch {
      return `${type} at a database.url that is not a URL`;
    }
  }
  const host = typeof options.host === 'string' ? options.host : 'localhost';
  const port = typeof options.port === 'number' ? `:${options.port}` : '';
  return `${type} ${host}${port}/${String(options.database ?? '')}`;
}

/** What to check, from the driver's error code (mysql2's `code`, better-sqlite3's, or Node's for a socket). */
function adviceFor(error: { code?: unknown }): string {
  switch (error.code) {
    case 'ER_BAD_DB_ERROR':
      return DATABASE_ADVICE.unknownDatabase;
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return DATABASE_ADVICE.accessDenied;
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ECONNRESET':
      return DATABASE_ADVICE.unreachable;
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_READONLY':
    case 'SQLITE_PERM':
    // TypeORM makes the file's directory first.
    case 'EEXIST':
    case 'ENOTDIR':
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return DATABASE_ADVICE.sqliteFile;
    case 'SQLITE_NOTADB':
      return DATABASE_ADVICE.notSqlite;
    default:
      return DATABASE_ADVICE.other;
  }
}

/**
 * Initializes a DataSource made from `options`; one that does not open fails (and `app.init()` with it) with a
 * PresenceDatabaseError that says where, why, and what to check.
 */
export async function openDataSource(dataSource: DataSource, options: ConnectionOptions): Promise<void> {
  try {
    await dataSource.initialize();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const advice = adviceFor((error ?? {}) as { code?: unknown });
    throw new PresenceDatabaseError(DATABASE_NOT_OPENED(describeTarget(options), reason, advice), { cause: error });
  }
}
