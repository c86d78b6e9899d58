import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { toSqlTime } from '../sql.dialect.js';
import { addColumnIfMissing, dropColumnIfExists, dropIndexIfExists, ensureIndex, quoted } from './schema-probe.util.js';

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
    const q = (name: string) => quoted(queryRunner, name);
    if (await addColumnIfMissing(queryRunner, t.channels, 'SCP_changed', 'DATETIME(3)', 'DATETIME')) {
      await queryRunner.query(`UPDATE ${q(t.channels)} SET ${q('SCP_changed')} = ?`, [toSqlTime(new Date())]);
    }
    for (const [index, table, column] of this.indexes()) await ensureIndex(queryRunner, index, table, [column]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    for (const [index, table] of this.indexes()) await dropIndexIfExists(queryRunner, index, table);
    await dropColumnIfExists(queryRunner, t.channels, 'SCP_changed');
  }

  /** Index, table, column. Names stay within MySQL's 64 characters for the longest table name (51). */
  private indexes(): Array<[string, string, string]> {
    const t = presenceTableNames(this.tableName);
    return [
      [`IX_${this.tableName}_last_seen`, t.status, 'SCP_last_seen'],
      [`IX_${this.tableName}_ch_changed`, t.channels, 'SCP_changed'],
    ];
  }
}
