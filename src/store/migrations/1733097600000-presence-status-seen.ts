import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { dropIndexIfExists, ensureIndex } from './schema-probe.util.js';

/**
 * An index on the status rows by (status, last seen), so that the GC's search for users left online without a
 * session reads only the users who are online or idle, not every offline user kept for `gc.retentionMs`.
 * Idempotent, like the others.
 */
export class PresenceStatusSeen1733097600000 implements MigrationInterface {
  readonly name = 'PresenceStatusSeen1733097600000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  /** Within MySQL's 64 characters for the longest table name (51). */
  private get index(): string {
    return `IX_${this.tableName}_st_seen`;
  }

  async up(queryRunner: QueryRunner): Promise<void> {
    await ensureIndex(queryRunner, this.index, presenceTableNames(this.tableName).status, ['SCP_status', 'SCP_last_seen']);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await dropIndexIfExists(queryRunner, this.index, presenceTableNames(this.tableName).status);
  }
}
