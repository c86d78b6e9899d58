import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { binaryCollation } from './binary-collation.util.js';

/** The unique index of sc-presence's DDL, which NULL user ids made useless. */
const OLD_UNIQUE = 'IX_unique_user_channel_socket';

/**
 * Upgrades a table that sc-presence created (its README's DDL) in place, so that an app moving over keeps its
 * table name and the SQL other services run against it. The first migration leaves an existing table alone;
 * this one finds the sc-presence layout by the missing `SCP_instance_id` and changes it to this module's.
 *
 * Old rows are deleted: they describe sockets of sc-presence processes (which must be stopped first), carry
 * no instance id, and the cold start would drop them anyway. With the table empty, no conversion can fail
 * and the re-keyed unique index cannot meet duplicates. MySQL/MariaDB only: sc-presence had no SQLite.
 */
export class ScPresenceUpgrade1732665600000 implements MigrationInterface {
  readonly name = 'ScPresenceUpgrade1732665600000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'better-sqlite3') return;
    const t = presenceTableNames(this.tableName).sockets;
    const columns = (await queryRunner.query(
      'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [t],
    )) as Array<{ name: string }>;
    if (columns.length === 0 || columns.some((c) => c.name === 'SCP_instance_id')) return;
    const indexes = (await queryRunner.query(
      'SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
      [t],
    )) as Array<{ name: string }>;
    const bin = await binaryCollation(queryRunner);
    await queryRunner.query(`DELETE FROM \`${t}\``);
    // The character set first: CONVERT TO would otherwise undo the binary collations set below.
    await queryRunner.query(`ALTER TABLE \`${t}\` CONVERT TO CHARACTER SET utf8mb4`);
    await queryRunner.query(`ALTER TABLE \`${t}\`
      ${indexes.some((i) => i.name === OLD_UNIQUE) ? `DROP INDEX \`${OLD_UNIQUE}\`,` : ''}
      MODIFY \`SCP_id\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      MODIFY \`SCP_socket_id\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      MODIFY \`SCP_user_id\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      MODIFY \`SCP_channel\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      MODIFY \`SCP_updated\` DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3),
      MODIFY \`SCP_authToken\` TEXT DEFAULT NULL,
      ADD \`SCP_instance_id\` VARCHAR(64) COLLATE ${bin} NOT NULL DEFAULT '',
      ADD \`SCP_status\` VARCHAR(8) NOT NULL DEFAULT 'online',
      ADD \`SCP_connected\` DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3),
      ADD UNIQUE KEY \`UQ_${t}_socket_channel\` (\`SCP_socket_id\`, \`SCP_channel\`),
      ADD KEY \`IX_${t}_channel_user\` (\`SCP_channel\`, \`SCP_user_id\`),
      ADD KEY \`IX_${t}_instance\` (\`SCP_instance_id\`),
      ADD KEY \`IX_${t}_updated\` (\`SCP_updated\`)`);
  }

  /** Nothing to undo that would be safe: the sc-presence layout cannot hold string user ids. */
  async down(): Promise<void> {}
}
