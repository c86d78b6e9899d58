import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { addColumnIfMissing, dropColumnIfExists } from './schema-probe.util.js';

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
    for (const [table, column, type] of this.columns()) await addColumnIfMissing(queryRunner, table, column, type, 'TEXT');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const [table, column] of this.columns()) await dropColumnIfExists(queryRunner, table, column);
  }
}
