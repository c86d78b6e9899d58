import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { binaryCollation } from './binary-collation.util.js';

/**
 * Tables of channel presence: the members of each channel as last published (one row per channel and user,
 * aggregated over the user's sockets in it) and a sequence number per channel, so that a client can notice a
 * missed diff. Idempotent, like the first migration.
 */
export class PresenceChannels1732492800000 implements MigrationInterface {
  readonly name = 'PresenceChannels1732492800000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    if (queryRunner.connection.options.type === 'better-sqlite3') {
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS "${t.members}" (
        "SCP_channel" VARCHAR(255) NOT NULL,
        "SCP_user_id" VARCHAR(255) NOT NULL,
        "SCP_status" VARCHAR(8) NOT NULL,
        PRIMARY KEY ("SCP_channel", "SCP_user_id")
      )`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IX_${t.members}_user" ON "${t.members}" ("SCP_user_id")`);
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS "${t.channels}" (
        "SCP_channel" VARCHAR(255) PRIMARY KEY NOT NULL,
        "SCP_seq" INTEGER NOT NULL
      )`);
      return;
    }
    const bin = await binaryCollation(queryRunner);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS \`${t.members}\` (
      \`SCP_channel\` VARCHAR(255) COLLATE ${bin} NOT NULL,
      \`SCP_user_id\` VARCHAR(255) COLLATE ${bin} NOT NULL,
      \`SCP_status\` VARCHAR(8) NOT NULL,
      PRIMARY KEY (\`SCP_channel\`, \`SCP_user_id\`),
      KEY \`IX_${t.members}_user\` (\`SCP_user_id\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS \`${t.channels}\` (
      \`SCP_channel\` VARCHAR(255) COLLATE ${bin} NOT NULL,
      \`SCP_seq\` BIGINT UNSIGNED NOT NULL,
      PRIMARY KEY (\`SCP_channel\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    for (const table of [t.channels, t.members]) {
      await queryRunner.query(`DROP TABLE IF EXISTS ${queryRunner.connection.driver.escape(table)}`);
    }
  }
}
