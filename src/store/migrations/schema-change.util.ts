import type { QueryRunner } from 'typeorm';

/** MySQL's duplicate column and duplicate key name errors, and SQLite's duplicate column. */
const MADE_ALREADY = /ER_DUP_FIELDNAME|ER_DUP_KEYNAME|duplicate column name/i;

/**
 * Resolves true once `statement` ran, false if another instance had made the same thing first. Instances that
 * start together run a migration at the same time: the loser of the race finds made what it wanted.
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
  const rows =
    queryRunner.connection.options.type === 'better-sqlite3'
      ? ((await queryRunner.query(`PRAGMA table_info("${table}")`)) as Array<{ name: string }>).filter((c) => c.name === column)
      : await queryRunner.query(
          'SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?',
          [table, column],
        );
  return rows.length > 0;
}
