import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { hasColumn, hasIndex, madeAlready } from './schema-check.util.js';

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
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    const q = (name: string) => (sqlite ? `"${name}"` : `\`${name}\``);
    if (!(await hasColumn(queryRunner, members, 'SCP_held'))) {
      await madeAlready(queryRunner.query(`ALTER TABLE ${q(members)} ADD COLUMN ${q('SCP_held')} ${sqlite ? 'DATETIME' : 'DATETIME(3)'} DEFAULT NULL`));
    }
    if (sqlite) {
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS ${q(this.index)} ON ${q(members)} (${q('SCP_held')})`);
    } else if (!(await hasIndex(queryRunner, members, this.index))) {
      await madeAlready(queryRunner.query(`CREATE INDEX ${q(this.index)} ON ${q(members)} (${q('SCP_held')})`));
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const { members } = presenceTableNames(this.tableName);
    const escape = (name: string) => queryRunner.connection.driver.escape(name);
    if (queryRunner.connection.options.type === 'better-sqlite3') await queryRunner.query(`DROP INDEX IF EXISTS ${escape(this.index)}`);
    else if (await hasIndex(queryRunner, members, this.index)) await queryRunner.query(`DROP INDEX ${escape(this.index)} ON ${escape(members)}`);
    if (await hasColumn(queryRunner, members, 'SCP_held')) await queryRunner.query(`ALTER TABLE ${escape(members)} DROP COLUMN ${escape('SCP_held')}`);
  }
}
