import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { hasColumn, madeAlready } from './schema-change.util.js';

/**
 * Session state: `SCP_state` on the sc-presence table, filled on each socket's presence row only (NULL on its
 * channel rows and for a session without state), and `SCP_states` on the channel members, the states as last
 * published, so that a diff can tell when they change. Both are nullable and added at the end: SQL that reads
 * the table, `SELECT *` included, keeps working. Idempotent, like the others.
 */
export class PresenceSessionState1733140800000 implements MigrationInterface {
  readonly name = 'PresenceSessionState1733140800000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  /** Table, column, MySQL type. A state is at most 64 KiB (TEXT); a member's states are those of all their sessions. */
  private columns(): Array<[string, string, string]> {
    const t = presenceTableNames(this.tableName);
    return [
      [t.sockets, 'SCP_state', 'TEXT'],
      [t.members, 'SCP_states', 'MEDIUMTEXT'],
    ];
  }

  async up(queryRunner: QueryRunner): Promise<void> {
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    const q = (name: string) => (sqlite ? `"${name}"` : `\`${name}\``);
    for (const [table, column, type] of this.columns()) {
      if (await hasColumn(queryRunner, table, column)) continue;
      await madeAlready(queryRunner.query(`ALTER TABLE ${q(table)} ADD COLUMN ${q(column)} ${sqlite ? 'TEXT' : type} DEFAULT NULL`));
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const escape = (name: string) => queryRunner.connection.driver.escape(name);
    for (const [table, column] of this.columns()) {
      if (await hasColumn(queryRunner, table, column)) await queryRunner.query(`ALTER TABLE ${escape(table)} DROP COLUMN ${escape(column)}`);
    }
  }
}
