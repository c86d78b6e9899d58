import type { QueryRunner } from 'typeorm';

/** MySQL's duplicate column and duplicate key name errors, and SQLite's duplicate column. */
const MADE_ALREADY = /ER_DUP_FIELDNAME|ER_DUP_KEYNAME|duplicate column name/i;

export const isSqlite = (queryRunner: QueryRunner): boolean => queryRunner.connection.options.type === 'better-sqlite3';

/** Quotes a name for the connection's dialect. */
export const quoted = (queryRunner: QueryRunner, name: string): string => (isSqlite(queryRunner) ? `"${name}"` : `\`${name}\``);

/**
 * Resolves true once `statement` ran, false if another instance had made the same thing first: instances that
 * start together run the migrations at the same time, and the loser of that race finds what it wanted.
 */
export async function madeAlready(statement: Promise<unknown>): Promise<boolean> {
  try {
    await statement;
    return true;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (MADE_ALREADY.test(code ?? '') || MADE_ALREADY.test(message ?? '')) return false;
    throw error;
  }
}

export async function hasColumn(queryRunner: QueryRunner, table: string, column: string): Promise<boolean> {
  const rows = isSqlite(queryRunner)
    ? ((await queryRunner.query(`PRAGMA table_info("${table}")`)) as Array<{ name: string }>).filter((c) => c.name === column)
    : await queryRunner.query(
        'SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?',
        [table, column],
      );
  return rows.length > 0;
}

export async function hasIndex(queryRunner: QueryRunner, table: string, index: string): Promise<boolean> {
  const rows = isSqlite(queryRunner)
    ? await queryRunner.query(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name = ?`, [table, index])
    : await queryRunner.query(
        'SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?',
        [table, index],
      );
  return (rows as unknown[]).length > 0;
}

/** Creates an index unless it exists (or another instance made it meanwhile). */
export async function ensureIndex(queryRunner: QueryRunner, index: string, table: string, columns: readonly string[]): Promise<void> {
  const q = (name: string) => quoted(queryRunner, name);
  const list = columns.map(q).join(', ');
  if (isSqlite(queryRunner)) {
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS ${q(index)} ON ${q(table)} (${list})`);
  } else if (!(await hasIndex(queryRunner, table, index))) {
    await madeAlready(queryRunner.query(`CREATE INDEX ${q(index)} ON ${q(table)} (${list})`));
  }
}

export async function dropIndexIfExists(queryRunner: QueryRunner, index: string, table: string): Promise<void> {
  if (!(await hasIndex(queryRunner, table, index))) return;
  const q = (name: string) => quoted(queryRunner, name);
  await queryRunner.query(isSqlite(queryRunner) ? `DROP INDEX ${q(index)}` : `DROP INDEX ${q(index)} ON ${q(table)}`);
}

/**
 * Adds a nullable column unless it exists (or another instance added it meanwhile). `type` is the MySQL
 * type; `sqliteType` SQLite's. Resolves true when this call added it.
 */
export async function addColumnIfMissing(
  queryRunner: QueryRunner,
  table: string,
  column: string,
  type: string,
  sqliteType = type,
): Promise<boolean> {
  if (await hasColumn(queryRunner, table, column)) return false;
  const q = (name: string) => quoted(queryRunner, name);
  return madeAlready(queryRunner.query(`ALTER TABLE ${q(table)} ADD COLUMN ${q(column)} ${isSqlite(queryRunner) ? sqliteType : type} DEFAULT NULL`));
}

export async function dropColumnIfExists(queryRunner: QueryRunner, table: string, column: string): Promise<void> {
  if (!(await hasColumn(queryRunner, table, column))) return;
  await queryRunner.query(`ALTER TABLE ${quoted(queryRunner, table)} DROP COLUMN ${quoted(queryRunner, column)}`);
}
