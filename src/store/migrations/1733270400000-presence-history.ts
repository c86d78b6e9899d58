import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { binaryCollation } from './binary-collation.util.js';

/**
 * The session history (option `history`): one row per ended session, never updated. Created whatever the
 * option, so that turning it on later needs no migration; with the option off nothing writes to it.
 * Two indexes, one per kind of query: (user, disconnected) for a user's sessions newest first and their last
 * disconnect, (disconnected) for pruning past the retention and for reports over a time range.
 * Idempotent, like the others.
 */
export class PresenceHistory1733270400000 implements MigrationInterface {
  readonly name = 'PresenceHistory1733270400000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const { history } = presenceTableNames(this.tableName);
    // Index names within MySQL's 64 characters for the longest table name (51).
    const byUser = `IX_${this.tableName}_hist_user`;
    const byTime = `IX_${this.tableName}_hist_ended`;
    if (queryRunner.connection.options.type === 'better-sqlite3') {
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS "${history}" (
        "SCP_id" INTEGER PRIMARY KEY AUTOINCREMENT,
        "SCP_socket_id" VARCHAR(255) NOT NULL,
        "SCP_user_id" VARCHAR(255) DEFAULT NULL,
        "SCP_connected" DATETIME NOT NULL,
        "SCP_disconnected" DATETIME NOT NULL,
        "SCP_reason" VARCHAR(16) NOT NULL,
        "SCP_instance_id" VARCHAR(64) NOT NULL
      )`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "${byUser}" ON "${history}" ("SCP_user_id", "SCP_disconnected")`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "${byTime}" ON "${history}" ("SCP_disconnected")`);
      return;
    }
    const bin = await binaryCollation(queryRunner);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS \`${history}\` (
      \`SCP_id\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      \`SCP_socket_id\` VARCHAR(255) COLLATE ${bin} NOT NULL,
      \`SCP_user_id\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      \`SCP_connected\` DATETIME(3) NOT NULL,
      \`SCP_disconnected\` DATETIME(3) NOT NULL,
      \`SCP_reason\` VARCHAR(16) NOT NULL,
      \`SCP_instance_id\` VARCHAR(64) COLLATE ${bin} NOT NULL,
      PRIMARY KEY (\`SCP_id\`),
      KEY \`${byUser}\` (\`SCP_user_id\`, \`SCP_disconnected\`),
      KEY \`${byTime}\` (\`SCP_disconnected\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const { history } = presenceTableNames(this.tableName);
    await queryRunner.query(`DROP TABLE IF EXISTS ${queryRunner.connection.driver.escape(history)}`);
  }
}
