import type { MigrationInterface, QueryRunner } from 'typeorm';
import { presenceTableNames } from '../presence.tables.js';
import { binaryCollation } from './binary-collation.util.js';

/**
 * Creates the sc-presence table (same columns, so SQL that reads it keeps working) and the module's own
 * tables. Idempotent: tables that exist are left alone, so it is safe both from the TypeORM CLI
 * (`npm run migration:run`, table name from PRESENCE_TABLE_NAME) and at startup (`database.migrationsRun`).
 *
 * Differences from sc-presence's DDL, each for a defect of the original:
 * - SCP_user_id is VARCHAR: string user ids are allowed.
 * - SCP_id is BIGINT: upserts consume auto-increment values, and INT runs out under steady churn.
 * - Unique on (socket, channel) instead of (user, channel, socket): NULL user ids made the old one useless.
 * - Ids and channels compare byte for byte (binary, no-pad collation): 'Room', 'room' and 'room ' differ.
 * - SCP_updated has milliseconds; SCP_authToken is TEXT (JSON of the token payload).
 */
export class PresenceSchema1732406400000 implements MigrationInterface {
  readonly name = 'PresenceSchema1732406400000';

  constructor(private readonly tableName = process.env.PRESENCE_TABLE_NAME ?? 'SCPresence_users') {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    const type = queryRunner.connection.options.type;
    if (type === 'better-sqlite3') {
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS "${t.sockets}" (
        "SCP_id" INTEGER PRIMARY KEY AUTOINCREMENT,
        "SCP_socket_id" VARCHAR(255) DEFAULT NULL,
        "SCP_user_id" VARCHAR(255) DEFAULT NULL,
        "SCP_channel" VARCHAR(255) DEFAULT NULL,
        "SCP_updated" DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
        "SCP_authToken" TEXT DEFAULT NULL,
        "SCP_ip" VARCHAR(255) DEFAULT NULL,
        "SCP_origin" VARCHAR(1024) DEFAULT NULL,
        "SCP_instance_id" VARCHAR(64) NOT NULL DEFAULT '',
        "SCP_status" VARCHAR(8) NOT NULL DEFAULT 'online',
        "SCP_connected" DATETIME DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
      )`);
      await queryRunner.query(`CREATE UNIQUE INDEX IF NOT EXISTS "UQ_${t.sockets}_socket_channel" ON "${t.sockets}" ("SCP_socket_id", "SCP_channel")`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IX_${t.sockets}_channel_user" ON "${t.sockets}" ("SCP_channel", "SCP_user_id")`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IX_${t.sockets}_instance" ON "${t.sockets}" ("SCP_instance_id")`);
      await queryRunner.query(`CREATE INDEX IF NOT EXISTS "IX_${t.sockets}_updated" ON "${t.sockets}" ("SCP_updated")`);
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS "${t.instances}" (
        "SCP_instance_id" VARCHAR(64) PRIMARY KEY NOT NULL,
        "SCP_host" VARCHAR(255) NOT NULL,
        "SCP_pid" INTEGER NOT NULL,
        "SCP_started" DATETIME NOT NULL,
        "SCP_heartbeat" DATETIME NOT NULL
      )`);
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS "${t.status}" (
        "SCP_user_id" VARCHAR(255) PRIMARY KEY NOT NULL,
        "SCP_status" VARCHAR(8) NOT NULL,
        "SCP_changed" DATETIME NOT NULL,
        "SCP_last_seen" DATETIME DEFAULT NULL
      )`);
      return;
    }
    const bin = await binaryCollation(queryRunner);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS \`${t.sockets}\` (
      \`SCP_id\` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      \`SCP_socket_id\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      \`SCP_user_id\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      \`SCP_channel\` VARCHAR(255) COLLATE ${bin} DEFAULT NULL,
      \`SCP_updated\` DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3),
      \`SCP_authToken\` TEXT DEFAULT NULL,
      \`SCP_ip\` VARCHAR(255) DEFAULT NULL,
      \`SCP_origin\` VARCHAR(1024) DEFAULT NULL,
      \`SCP_instance_id\` VARCHAR(64) COLLATE ${bin} NOT NULL DEFAULT '',
      \`SCP_status\` VARCHAR(8) NOT NULL DEFAULT 'online',
      \`SCP_connected\` DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3),
      PRIMARY KEY (\`SCP_id\`),
      UNIQUE KEY \`UQ_${t.sockets}_socket_channel\` (\`SCP_socket_id\`, \`SCP_channel\`),
      KEY \`IX_${t.sockets}_channel_user\` (\`SCP_channel\`, \`SCP_user_id\`),
      KEY \`IX_${t.sockets}_instance\` (\`SCP_instance_id\`),
      KEY \`IX_${t.sockets}_updated\` (\`SCP_updated\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS \`${t.instances}\` (
      \`SCP_instance_id\` VARCHAR(64) COLLATE ${bin} NOT NULL,
      \`SCP_host\` VARCHAR(255) NOT NULL,
      \`SCP_pid\` INT NOT NULL,
      \`SCP_started\` DATETIME(3) NOT NULL,
      \`SCP_heartbeat\` DATETIME(3) NOT NULL,
      PRIMARY KEY (\`SCP_instance_id\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    await queryRunner.query(`CREATE TABLE IF NOT EXISTS \`${t.status}\` (
      \`SCP_user_id\` VARCHAR(255) COLLATE ${bin} NOT NULL,
      \`SCP_status\` VARCHAR(8) NOT NULL,
      \`SCP_changed\` DATETIME(3) NOT NULL,
      \`SCP_last_seen\` DATETIME(3) DEFAULT NULL,
      PRIMARY KEY (\`SCP_user_id\`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const t = presenceTableNames(this.tableName);
    for (const table of [t.status, t.instances, t.sockets]) {
      await queryRunner.query(`DROP TABLE IF EXISTS ${queryRunner.connection.driver.escape(table)}`);
    }
  }
}
