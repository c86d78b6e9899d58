import type { SqlDialect } from './sql.dialect.js';
import type { PresenceTableNames } from './presence.tables.js';

/** Statements inside a transaction (or, for a write that is one statement, outside one). */
export interface Tx {
  exec(sql: string, params: unknown[]): Promise<number>;
  rows<T>(sql: string, params: unknown[]): Promise<T[]>;
}

/** What every table module needs to build its statements: the dialect, the quoted table names, the presence channel. */
export interface SqlContext {
  readonly dialect: SqlDialect;
  readonly tables: PresenceTableNames;
  readonly presenceChannel: string;
  /** The quoted name of one of the module's tables. */
  t(table: keyof PresenceTableNames): string;
}

/** Rows per INSERT and ids per DELETE: far below both servers' placeholder limits. */
export const CHUNK = 500;

/**
 * Values per `IN` list on an index where one value can match many rows: socket ids on the (socket, channel) key,
 * user ids on (channel, user) of the sockets or on the user indexes of the members and history tables; and
 * (socket, channel) pairs, which the (channel, user) index could also serve, badly. Below
 * `eq_range_index_dive_limit` (200 on MySQL 8 and MariaDB). From that many values on, the server stops
 * counting each value's rows in the index and takes them from the index statistics instead; while a table grows
 * fast those lag behind (rows are counted as they come, distinct values only at the next recalculation), the
 * estimate becomes the whole table, and each statement scans all of it.
 * SQLite has no such switch, and takes the same size for simplicity.
 */
export const PREFIX_CHUNK = 100;

/** The statement shapes of a `shaped` dialect: powers of two up to CHUNK, then multiples of CHUNK; at most half is padding. */
const SHAPES = [1, 2, 4, 8, 16, 32, 64, 128, 256, CHUNK];

/** How many rows (or ids) a statement for `rows` of them is written with; the params beyond `rows` are NULLs. */
export function shape(dialect: SqlDialect, rows: number): number {
  if (!dialect.shaped) return rows;
  return SHAPES.find((size) => size >= rows) ?? Math.ceil(rows / CHUNK) * CHUNK;
}

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `(?, ?, …)` with one placeholder per item, for `column IN ${inList(items)}`. */
export function inList(items: readonly unknown[]): string {
  return `(${'?, '.repeat(Math.max(items.length - 1, 0))}${items.length > 0 ? '?' : ''})`;
}

/** `(a = ? AND b = ?) OR …` for `count` pairs of two key columns, with the params in the same order. */
export function pairList(first: string, second: string, count: number): string {
  const pair = `(${first} = ? AND ${second} = ?)`;
  return count > 0 ? `${`${pair} OR `.repeat(count - 1)}${pair}` : '';
}

/** A count read back from either driver (MySQL returns strings for SUM and COUNT, SQLite numbers). */
export type SqlNumber = number | string;
