import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { toSqlTime } from '../sql.dialect.js';
import { hasColumn, madeAlready } from './schema-change.util.js';

/**
 * What GC needs to prune the side tables within `gc.retentionMs`: an index on the status rows' last-seen time,
 * and on each channel counter the time of its last diff (rows from before this migration count as changed
 * now, so no counter of a channel someone still watches is dropped at once). Idempotent, like the others.
 */
export class PresenceRetention1733011200000 implements MigrationInterface {
  readonly name = 'PresenceRetention1733011200000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    const q = (name: string) => (sqlite ? `"${name}"` : `\`${name}\``);
    // Instances that start together run this at the same time: the loser of a race finds the column or
    // index made already, which is what it wanted.
    if (!(await hasColumn(queryRunner, t.channels, 'SCP_changed'))) {
      const added = await madeAlready(
        queryRunner.query(`ALTER TABLE ${q(t.channels)} ADD COLUMN ${q('SCP_changed')} ${sqlite ? 'DATETIME' : 'DATETIME(3)'} DEFAULT NULL`),
      );
      if (added) await queryRunner.query(`UPDATE ${q(t.channels)} SET ${q('SCP_changed')} = ?`, [toSqlTime(new Date())]);
    }
    for (const [index, table, column] of this.indexes()) {
      if (sqlite) {
        await queryRunner.query(`CREATE INDEX IF NOT EXISTS ${q(index)} ON ${q(table)} (${q(column)})`);
      } else if (!(await this.hasIndex(queryRunner, table, index))) {
        await madeAlready(queryRunner.query(`CREATE INDEX ${q(index)} ON ${q(table)} (${q(column)})`));
      }
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    const escape = (name: string) => queryRunner.connection.driver.escape(name);
    for (const [index, table] of this.indexes()) {
      if (sqlite) await queryRunner.query(`DROP INDEX IF EXISTS ${escape(index)}`);
      else if (await this.hasIndex(queryRunner, table, index)) await queryRunner.query(`DROP INDEX ${escape(index)} ON ${escape(table)}`);
    }
    if (await hasColumn(queryRunner, t.channels, 'SCP_changed')) {
      await queryRunner.query(`ALTER TABLE ${escape(t.channels)} DROP COLUMN ${escape('SCP_changed')}`);
    }
  }

  /** Index, table, column. Names stay within MySQL's 64 characters for the longest table name (51). */
  private indexes(): Array<[string, string, string]> {
    const t = presenceTableNames(this.tableName);
    return [
      [`IX_${this.tableName}_last_seen`, t.status, 'SCP_last_seen'],
      [`IX_${this.tableName}_ch_changed`, t.channels, 'SCP_changed'],
    ];
  }

  private async hasIndex(queryRunner: QueryRunner, table: string, index: string): Promise<boolean> {
    const rows = await queryRunner.query(
      'SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?',
      [table, index],
    );
    return rows.length > 0;
  }
}
