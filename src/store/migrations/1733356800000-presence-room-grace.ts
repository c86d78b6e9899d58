import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { dropIndexIfExists, ensureIndex, hasColumn, isSqlite, madeAlready, quoted } from './schema-probe.util.js';

/**
 * The reconnect grace of channel presence: on each published membership, since when it is held although no
 * socket backs it (its last socket in the channel closed; NULL when it is not held), and an index for the GC
 * sweep that decides holds nobody decided. Idempotent, like the others.
 */
export class PresenceRoomGrace1733356800000 implements MigrationInterface {
  readonly name = 'PresenceRoomGrace1733356800000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  /** Within MySQL's 64 characters for the longest table name (51). */
  private get index(): string {
    return `IX_${this.tableName}_m_held`;
  }

  async up(queryRunner: QueryRunner): Promise<void> {
    const { members } = presenceTableNames(this.tableName);
    const q = (name: string) => quoted(queryRunner, name);
    if (!(await hasColumn(queryRunner, members, 'SCP_held'))) {
      const type = isSqlite(queryRunner) ? 'DATETIME' : 'DATETIME(3)';
      await madeAlready(queryRunner.query(`ALTER TABLE ${q(members)} ADD COLUMN ${q('SCP_held')} ${type} DEFAULT NULL`));
    }
    await ensureIndex(queryRunner, this.index, members, ['SCP_held']);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const { members } = presenceTableNames(this.tableName);
    await dropIndexIfExists(queryRunner, this.index, members);
    if (await hasColumn(queryRunner, members, 'SCP_held')) {
      await queryRunner.query(`ALTER TABLE ${quoted(queryRunner, members)} DROP COLUMN ${quoted(queryRunner, 'SCP_held')}`);
    }
  }
}
