import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { addColumnIfMissing, dropColumnIfExists, dropIndexIfExists, ensureIndex } from './schema-probe.util.js';

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
    await addColumnIfMissing(queryRunner, members, 'SCP_held', 'DATETIME(3)', 'DATETIME');
    await ensureIndex(queryRunner, this.index, members, ['SCP_held']);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const { members } = presenceTableNames(this.tableName);
    await dropIndexIfExists(queryRunner, this.index, members);
    await dropColumnIfExists(queryRunner, members, 'SCP_held');
  }
}
