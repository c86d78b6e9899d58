import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import type { AGClientSocket } from 'socketcluster-client';
import { BACKENDS, MYSQL_URL, dropTables, eventually, fastOptions, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';

/** The table of sc-presence's README, verbatim but for its name. */
const scPresenceDdl = (table: string) => `CREATE TABLE IF NOT EXISTS \`${table}\` (
  SCP_id INT(11) NOT NULL AUTO_INCREMENT,
  SCP_socket_id VARCHAR(255) DEFAULT NULL,
  SCP_user_id INT(11) DEFAULT NULL,
  SCP_channel VARCHAR(255) DEFAULT NULL,
  SCP_updated DATETIME DEFAULT CURRENT_TIMESTAMP,
  SCP_authToken VARCHAR(2048) DEFAULT NULL,
  SCP_ip VARCHAR(255) DEFAULT NULL,
  SCP_origin VARCHAR(1024) DEFAULT NULL,
  PRIMARY KEY (SCP_id),
  UNIQUE INDEX IX_unique_user_channel_socket (SCP_user_id, SCP_channel, SCP_socket_id)
)
ENGINE = INNODB`;

describe.runIf(BACKENDS.includes('mariadb')).sequential('a table that sc-presence created, with its rows (mariadb)', () => {
  const table = uniqueTable('scpold');
  let admin: DataSource;
  let ctx: PresenceApp | undefined;
  const sockets: AGClientSocket[] = [];

  const columns = async () =>
    Object.fromEntries(
      (
        await admin.query<Array<{ name: string; type: string }>>(
          'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
          [table],
        )
      ).map((c) => [c.name, c.type.toLowerCase()]),
    );
  const indexes = async () =>
    (
      await admin.query<Array<{ name: string }>>(
        'SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME',
        [table],
      )
    ).map((i) => i.name);

  beforeAll(async () => {
    admin = new DataSource({ type: 'mysql', url: MYSQL_URL });
    await admin.initialize();
    await admin.query(scPresenceDdl(table));
    await admin.query(
      `INSERT INTO \`${table}\` (SCP_socket_id, SCP_user_id, SCP_channel, SCP_authToken, SCP_ip) VALUES
        ('old-1', 7, '_SCPRESENCE', '{"user_id":7}', '10.0.0.1'), ('old-1', 7, 'LOBBY', '{"user_id":7}', '10.0.0.1'),
        ('old-2', NULL, '_SCPRESENCE', NULL, '10.0.0.2')`,
    );
  });

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    ctx = undefined;
  });

  afterAll(async () => {
    await dropTables(table);
    await admin?.destroy();
  });

  it('is upgraded in place at startup: new columns and keys, string user ids, old rows cleared', async () => {
    ctx = await startPresenceApp(fastOptions('mariadb', { tableName: table }));
    expect(await columns()).toMatchObject({
      SCP_id: 'bigint(20) unsigned',
      SCP_user_id: 'varchar(255)',
      SCP_updated: 'datetime(3)',
      SCP_authToken: 'text',
      SCP_instance_id: 'varchar(64)',
      SCP_status: 'varchar(8)',
      SCP_connected: 'datetime(3)',
    });
    expect(await indexes()).toEqual(
      ['IX_' + table + '_channel_user', 'IX_' + table + '_instance', 'IX_' + table + '_updated', 'PRIMARY', 'UQ_' + table + '_socket_channel'].sort(),
    );
    expect(await admin.query(`SELECT * FROM \`${table}\` WHERE SCP_socket_id LIKE 'old-%'`)).toEqual([]);

    const socket = await connectClient(ctx.port, ctx.server, { token: { user_id: 'ada' } });
    sockets.push(socket);
    await subscribe(socket, 'lobby');
    await eventually(async () =>
      expect(await admin.query(`SELECT SCP_user_id AS u, SCP_channel AS c FROM \`${table}\` ORDER BY SCP_channel`)).toEqual([
        { u: 'ada', c: '_SCPRESENCE' },
        { u: 'ada', c: 'lobby' },
      ]),
    );
    expect(await ctx.presence.getUserStatus('ada')).toBe('online');
  });

  it('is left alone once upgraded: a second start keeps the rows of the layout', async () => {
    const before = await columns();
    ctx = await startPresenceApp(fastOptions('mariadb', { tableName: table }));
    expect(await columns()).toEqual(before);
  });
});
