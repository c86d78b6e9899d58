import type { DataSource } from 'typeorm';
import { UNSUPPORTED_DATABASE } from '../presence.messages.js';

/** The few places where MySQL/MariaDB and SQLite SQL differ. Only the store and its migration use this. */
export interface SqlDialect {
  readonly kind: 'mysql' | 'sqlite';
  id(name: string): string;
  /** `INSERT … VALUES (…),(…)` that, where `conflict` already exists, sets the `update` columns to the incoming values. */
  upsert(table: string, columns: readonly string[], rows: number, conflict: readonly string[], update: readonly string[]): string;
  /**
   * Whether statements are padded to a few fixed shapes (see `shape` in sql.helpers). SQLite prepares each
   * distinct text and keeps it, so each shape is prepared once, where every other batch size would be a new
   * prepared statement. MySQL statements go as text, unprepared: padding would only add bytes.
   */
  readonly shaped: boolean;
  /** Like `upsert`, for value rows padded to a shape: those whose first column is NULL are padding, and skipped. */
  upsertShaped(table: string, columns: readonly string[], rows: number, conflict: readonly string[], update: readonly string[]): string;
  /** Inserts `rows` keys with counter 1, or adds 1 to the counter of those that exist; each key is followed by its param for `changed`, a time column. */
  upsertCounter(table: string, key: string, counter: string, rows: number, changed: string): string;
  /** Deletes at most `limit` rows of `table` matching `where`: one bounded statement. */
  deleteSome(table: string, where: string, limit: number): string;
  /** `INSERT IGNORE` / `INSERT OR IGNORE`. */
  readonly insertIgnore: string;
  /** Row locks for a SELECT inside a transaction; SQLite's transactions are serialised anyway. */
  readonly forUpdate: string;
  /** A DATETIME(3) column read back as text, independent of the connection's time zone. */
  timeText(column: string): string;
}

function assignments(update: readonly string[], id: (name: string) => string, incoming: (name: string) => string): string {
  return update.map((column) => `${id(column)} = ${incoming(column)}`).join(', ');
}

const placeholders = (columns: number, rows: number) => {
  const row = `(${'?, '.repeat(columns - 1)}?)`;
  return `${`${row}, `.repeat(rows - 1)}${row}`;
};

const mysqlId = (name: string) => `\`${name}\``;
const sqliteId = (name: string) => `"${name}"`;

const mysqlUpsert: SqlDialect['upsert'] = (table, columns, rows, _conflict, update) =>
  `INSERT INTO ${mysqlId(table)} (${columns.map(mysqlId).join(', ')}) VALUES ${placeholders(columns.length, rows)} ` +
  `ON DUPLICATE KEY UPDATE ${assignments(update, mysqlId, (c) => `VALUES(${mysqlId(c)})`)}`;

export const mysqlDialect: SqlDialect = {
  kind: 'mysql',
  id: mysqlId,
  upsert: mysqlUpsert,
  shaped: false,
  upsertShaped: mysqlUpsert,
  upsertCounter: (table, key, counter, rows, changed) =>
    `INSERT INTO ${mysqlId(table)} (${mysqlId(key)}, ${mysqlId(counter)}, ${mysqlId(changed)}) VALUES ${new Array(rows).fill('(?, 1, ?)').join(', ')} ` +
    `ON DUPLICATE KEY UPDATE ${mysqlId(counter)} = ${mysqlId(counter)} + 1, ${mysqlId(changed)} = VALUES(${mysqlId(changed)})`,
  deleteSome: (table, where, limit) => `DELETE FROM ${mysqlId(table)} WHERE ${where} LIMIT ${Math.trunc(limit)}`,
  insertIgnore: 'INSERT IGNORE',
  forUpdate: ' FOR UPDATE',
  timeText: (column) => `DATE_FORMAT(${column}, '%Y-%m-%d %H:%i:%s.%f')`,
};

export const sqliteDialect: SqlDialect = {
  kind: 'sqlite',
  id: sqliteId,
  upsert: (table, columns, rows, conflict, update) =>
    `INSERT INTO ${sqliteId(table)} (${columns.map(sqliteId).join(', ')}) VALUES ${placeholders(columns.length, rows)} ` +
    `ON CONFLICT (${conflict.map(sqliteId).join(', ')}) DO UPDATE SET ${assignments(update, sqliteId, (c) => `excluded.${sqliteId(c)}`)}`,
  shaped: true,
  // The WHERE drops the padding; it is also what lets SQLite parse ON CONFLICT after a SELECT.
  upsertShaped: (table, columns, rows, conflict, update) =>
    `INSERT INTO ${sqliteId(table)} (${columns.map(sqliteId).join(', ')}) SELECT * FROM (VALUES ${placeholders(columns.length, rows)}) WHERE column1 IS NOT NULL ` +
    `ON CONFLICT (${conflict.map(sqliteId).join(', ')}) DO UPDATE SET ${assignments(update, sqliteId, (c) => `excluded.${sqliteId(c)}`)}`,
  upsertCounter: (table, key, counter, rows, changed) =>
    `INSERT INTO ${sqliteId(table)} (${sqliteId(key)}, ${sqliteId(counter)}, ${sqliteId(changed)}) VALUES ${new Array(rows).fill('(?, 1, ?)').join(', ')} ` +
    `ON CONFLICT (${sqliteId(key)}) DO UPDATE SET ${sqliteId(counter)} = ${sqliteId(counter)} + 1, ${sqliteId(changed)} = excluded.${sqliteId(changed)}`,
  // DELETE … LIMIT is a compile-time option of SQLite: select the rowids instead.
  deleteSome: (table, where, limit) =>
    `DELETE FROM ${sqliteId(table)} WHERE rowid IN (SELECT rowid FROM ${sqliteId(table)} WHERE ${where} LIMIT ${Math.trunc(limit)})`,
  insertIgnore: 'INSERT OR IGNORE',
  forUpdate: '',
  timeText: (column) => column,
};

export function dialectOf(dataSource: DataSource): SqlDialect {
  const type = dataSource.options.type;
  if (type === 'mysql' || type === 'mariadb') return mysqlDialect;
  if (type === 'better-sqlite3') return sqliteDialect;
  throw new Error(UNSUPPORTED_DATABASE(type));
}

/** Times are written as UTC text with milliseconds, the same on every host and in both dialects. */
export function toSqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

export function fromSqlTime(value: string | Date): Date {
  if (value instanceof Date) return value;
  return new Date(`${value.replace(' ', 'T')}Z`);
}
