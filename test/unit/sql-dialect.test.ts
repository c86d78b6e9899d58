import { describe, it, expect } from 'vitest';
import type { DataSource } from 'typeorm';
import { dialectOf, fromSqlTime, mysqlDialect, sqliteDialect, toSqlTime } from '../../src/store/sql.dialect.js';
import { shape } from '../../src/store/sql.helpers.js';

const COLUMNS = ['SCP_socket_id', 'SCP_channel', 'SCP_updated'];
const CONFLICT = ['SCP_socket_id', 'SCP_channel'];
const UPDATE = ['SCP_updated'];

describe('mysqlDialect', () => {
  it('writes an upsert of 2 rows with ON DUPLICATE KEY UPDATE', () => {
    expect(mysqlDialect.upsert('SCPresence_users', COLUMNS, 2, CONFLICT, UPDATE)).toBe(
      'INSERT INTO `SCPresence_users` (`SCP_socket_id`, `SCP_channel`, `SCP_updated`) VALUES (?, ?, ?), (?, ?, ?) ' +
        'ON DUPLICATE KEY UPDATE `SCP_updated` = VALUES(`SCP_updated`)',
    );
  });

  it('updates every listed column', () => {
    expect(mysqlDialect.upsert('t', ['a', 'b', 'c'], 1, ['a'], ['b', 'c'])).toBe(
      'INSERT INTO `t` (`a`, `b`, `c`) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE `b` = VALUES(`b`), `c` = VALUES(`c`)',
    );
  });

  it('writes every batch size as it is, unpadded', () => {
    expect([1, 3, 499, 500, 501].map((n) => shape(mysqlDialect, n))).toEqual([1, 3, 499, 500, 501]);
    expect(mysqlDialect.upsertShaped('t', ['a', 'b'], 2, ['a'], ['b'])).toBe(mysqlDialect.upsert('t', ['a', 'b'], 2, ['a'], ['b']));
  });

  it('quotes identifiers with backticks', () => {
    expect(mysqlDialect.id('SCP_channel')).toBe('`SCP_channel`');
  });

  it('reads times as text with microseconds', () => {
    expect(mysqlDialect.timeText('SCP_updated')).toBe("DATE_FORMAT(SCP_updated, '%Y-%m-%d %H:%i:%s.%f')");
  });
});

describe('sqliteDialect', () => {
  it('writes an upsert of 2 rows with ON CONFLICT … DO UPDATE', () => {
    expect(sqliteDialect.upsert('SCPresence_users', COLUMNS, 2, CONFLICT, UPDATE)).toBe(
      'INSERT INTO "SCPresence_users" ("SCP_socket_id", "SCP_channel", "SCP_updated") VALUES (?, ?, ?), (?, ?, ?) ' +
        'ON CONFLICT ("SCP_socket_id", "SCP_channel") DO UPDATE SET "SCP_updated" = excluded."SCP_updated"',
    );
  });

  it('updates every listed column', () => {
    expect(sqliteDialect.upsert('t', ['a', 'b', 'c'], 1, ['a'], ['b', 'c'])).toBe(
      'INSERT INTO "t" ("a", "b", "c") VALUES (?, ?, ?) ON CONFLICT ("a") DO UPDATE SET "b" = excluded."b", "c" = excluded."c"',
    );
  });

  it('pads batch sizes to a few fixed shapes', () => {
    expect([1, 2, 3, 9, 65, 257, 500, 501, 1200].map((n) => shape(sqliteDialect, n))).toEqual([1, 2, 4, 16, 128, 500, 500, 1000, 1500]);
  });

  it('writes a shaped upsert that skips the rows whose first column is NULL', () => {
    expect(sqliteDialect.upsertShaped('t', ['a', 'b'], 2, ['a'], ['b'])).toBe(
      'INSERT INTO "t" ("a", "b") SELECT * FROM (VALUES (?, ?), (?, ?)) WHERE column1 IS NOT NULL ON CONFLICT ("a") DO UPDATE SET "b" = excluded."b"',
    );
  });

  it('quotes identifiers with double quotes', () => {
    expect(sqliteDialect.id('SCP_channel')).toBe('"SCP_channel"');
  });

  it('reads times as the stored text', () => {
    expect(sqliteDialect.timeText('SCP_updated')).toBe('SCP_updated');
  });
});

describe('dialectOf', () => {
  const dataSource = (type: string) => ({ options: { type } }) as unknown as DataSource;

  it('uses the MySQL dialect for mysql and mariadb', () => {
    expect(dialectOf(dataSource('mysql'))).toBe(mysqlDialect);
    expect(dialectOf(dataSource('mariadb'))).toBe(mysqlDialect);
  });

  it('uses the SQLite dialect for better-sqlite3', () => {
    expect(dialectOf(dataSource('better-sqlite3'))).toBe(sqliteDialect);
  });

  it('refuses other databases, naming the type', () => {
    expect(() => dialectOf(dataSource('postgres'))).toThrow(/'postgres'/);
  });
});

describe('toSqlTime / fromSqlTime', () => {
  const date = new Date('2026-01-02T03:04:05.123Z');

  it('writes UTC text with milliseconds', () => {
    expect(toSqlTime(date)).toBe('2026-01-02 03:04:05.123');
  });

  it('round-trips a date with milliseconds', () => {
    expect(fromSqlTime(toSqlTime(date)).getTime()).toBe(date.getTime());
  });

  it('round-trips 000 and 999 milliseconds', () => {
    for (const iso of ['2026-12-31T23:59:59.999Z', '2026-06-15T12:00:00.000Z']) {
      expect(fromSqlTime(toSqlTime(new Date(iso))).toISOString()).toBe(iso);
    }
  });

  it('reads MySQL\'s six-digit fraction as UTC', () => {
    expect(fromSqlTime('2026-01-02 03:04:05.123000').toISOString()).toBe('2026-01-02T03:04:05.123Z');
  });

  it('reads text without a fraction as UTC', () => {
    expect(fromSqlTime('2026-01-02 03:04:05').toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('passes a Date through', () => {
    expect(fromSqlTime(date)).toBe(date);
  });
});

describe('bounded deletes and channel counters', () => {
  it('deletes at most n rows with DELETE … LIMIT on MySQL', () => {
    expect(mysqlDialect.deleteSome('t_status', "SCP_status = 'offline'", 500)).toBe("DELETE FROM `t_status` WHERE SCP_status = 'offline' LIMIT 500");
  });

  it('selects at most n rowids on SQLite, where DELETE … LIMIT is a compile-time option', () => {
    expect(sqliteDialect.deleteSome('t_status', "SCP_status = 'offline'", 500)).toBe(
      `DELETE FROM "t_status" WHERE rowid IN (SELECT rowid FROM "t_status" WHERE SCP_status = 'offline' LIMIT 500)`,
    );
  });

  it('counts a diff and stamps its time in one upsert per dialect', () => {
    expect(mysqlDialect.upsertCounter('t_channels', 'SCP_channel', 'SCP_seq', 2, 'SCP_changed')).toBe(
      'INSERT INTO `t_channels` (`SCP_channel`, `SCP_seq`, `SCP_changed`) VALUES (?, 1, ?), (?, 1, ?) ' +
        'ON DUPLICATE KEY UPDATE `SCP_seq` = `SCP_seq` + 1, `SCP_changed` = VALUES(`SCP_changed`)',
    );
    expect(sqliteDialect.upsertCounter('t_channels', 'SCP_channel', 'SCP_seq', 1, 'SCP_changed')).toBe(
      'INSERT INTO "t_channels" ("SCP_channel", "SCP_seq", "SCP_changed") VALUES (?, 1, ?) ' +
        'ON CONFLICT ("SCP_channel") DO UPDATE SET "SCP_seq" = "SCP_seq" + 1, "SCP_changed" = excluded."SCP_changed"',
    );
  });
});
