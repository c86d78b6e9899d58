import type { DataSource } from 'typeorm';

/** The few places where MySQL/MariaDB and SQLite SQL differ. Only the store and its migration use this. */
export interface SqlDialect {
  readonly kind: 'mysql' | 'sqlite';
  id(name: string): string;
  /** `INSERT … VALUES (…),(…)` that replaces `update` columns when `conflict` already exists. */
  upsert(table: string, columns: readonly string[], rows: number, conflict: readonly string[], update: readonly string[]): string;
  /** A DATETIME(3) column read back as text, independent of the connection's time zone. */
  timeText(column: string): string;
}

const placeholders = (columns: number, rows: number) => {
  const row = `(${new Array(columns).fill('?').join(', ')})`;
  return new Array(rows).fill(row).join(', ');
};

export const mysqlDialect: SqlDialect = {
  kind: 'mysql',
  id: (name) => `\`${name}\``,
  upsert: (table, columns, rows, _conflict, update) =>
    `INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ${placeholders(columns.length, rows)} ` +
    `ON DUPLICATE KEY UPDATE ${update.map((c) => `\`${c}\` = VALUES(\`${c}\`)`).join(', ')}`,
  timeText: (column) => `DATE_FORMAT(${column}, '%Y-%m-%d %H:%i:%s.%f')`,
};

export const sqliteDialect: SqlDialect = {
  kind: 'sqlite',
  id: (name) => `"${name}"`,
  upsert: (table, columns, rows, conflict, update) =>
    `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${placeholders(columns.length, rows)} ` +
    `ON CONFLICT (${conflict.map((c) => `"${c}"`).join(', ')}) DO UPDATE SET ${update.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`,
  timeText: (column) => column,
};

export function dialectOf(dataSource: DataSource): SqlDialect {
  const type = dataSource.options.type;
  if (type === 'mysql' || type === 'mariadb') return mysqlDialect;
  if (type === 'better-sqlite3') return sqliteDialect;
  throw new Error(`nestjs-sc-presence supports mysql, mariadb and better-sqlite3 databases, not '${type}'`);
}

/** Times are written as UTC text with milliseconds, the same on every host and in both dialects. */
export function toSqlTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

export function fromSqlTime(value: string | Date): Date {
  if (value instanceof Date) return value;
  return new Date(`${value.replace(' ', 'T')}Z`);
}
