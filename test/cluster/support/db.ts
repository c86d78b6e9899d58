import mysql from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { presenceTableNames, presenceMigrations } from '../../../src/index.js';

export const MYSQL_URL = process.env.PRESENCE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** The same database reached through another host and port (e.g. a proxy in front of MariaDB). */
export function urlThrough(port: number, host = '127.0.0.1'): string {
  const url = new URL(MYSQL_URL);
  url.hostname = host;
  url.port = String(port);
  return url.toString();
}

export const mysqlTarget = () => {
  const url = new URL(MYSQL_URL);
  return { host: url.hostname, port: Number(url.port || 3306) };
};

/** The test's own view of the tables: plain SQL on a small pool, as another service would read them. */
export class Db {
  private constructor(private readonly pool: mysql.Pool) {}

  static open(): Db {
    return new Db(mysql.createPool({ uri: MYSQL_URL, connectionLimit: 3, dateStrings: true }));
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.pool.query(sql, params);
    return rows as T[];
  }

  /** (socket, channel) pairs of one instance, as `socket|channel` strings, sorted. */
  async rowsOf(table: string, instanceId: string): Promise<string[]> {
    const rows = await this.query<{ s: string; c: string }>(
      `SELECT SCP_socket_id AS s, SCP_channel AS c FROM \`${table}\` WHERE SCP_instance_id = ?`, [instanceId]);
    return rows.map((r) => `${r.s}|${r.c}`).sort();
  }

  async countRows(table: string, where = '1 = 1', params: unknown[] = []): Promise<number> {
    const [row] = await this.query<{ n: number }>(`SELECT COUNT(*) AS n FROM \`${table}\` WHERE ${where}`, params);
    return Number(row.n);
  }

  /** Stored status of each user ('offline' for a user never seen). */
  async statuses(table: string, userIds: string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = Object.fromEntries(userIds.map((u) => [u, 'offline']));
    if (userIds.length === 0) return out;
    const rows = await this.query<{ u: string; s: string }>(
      `SELECT SCP_user_id AS u, SCP_status AS s FROM \`${presenceTableNames(table).status}\` WHERE SCP_user_id IN (?)`, [userIds]);
    for (const row of rows) out[row.u] = row.s;
    return out;
  }

  /** The leases: instance ids with their start and last heartbeat (ms since the epoch, from the UTC text). */
  async leases(table: string): Promise<Array<{ id: string; started: number; heartbeat: number }>> {
    const rows = await this.query<{ id: string; started: string; heartbeat: string }>(
      `SELECT SCP_instance_id AS id, DATE_FORMAT(SCP_started, '%Y-%m-%d %H:%i:%s.%f') AS started,
        DATE_FORMAT(SCP_heartbeat, '%Y-%m-%d %H:%i:%s.%f') AS heartbeat FROM \`${presenceTableNames(table).instances}\``);
    const ms = (text: string) => new Date(`${text.replace(' ', 'T').slice(0, 23)}Z`).getTime();
    return rows.map((r) => ({ id: r.id, started: ms(r.started), heartbeat: ms(r.heartbeat) }));
  }

  /** The GC leader by the module's rule: the oldest instance (SCP_started, then id) whose lease is current. */
  async leader(table: string, thresholdMs: number): Promise<string | undefined> {
    const cutoff = Date.now() - thresholdMs;
    const live = (await this.leases(table)).filter((l) => l.heartbeat >= cutoff);
    live.sort((a, b) => a.started - b.started || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return live[0]?.id;
  }

  /** MariaDB connection ids of the connections coming from these local ports of 127.0.0.1 (HOST `ip:port`). */
  async connectionIdsFromPorts(ports: number[]): Promise<number[]> {
    if (ports.length === 0) return [];
    const rows = await this.query<{ ID: number }>(
      `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'root' AND SUBSTRING_INDEX(HOST, ':', -1) IN (?)
       AND SUBSTRING_INDEX(HOST, ':', 1) IN ('127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1')`,
      [ports.map(String)],
    );
    return rows.map((r) => Number(r.ID));
  }

  /** KILLs connections by id; one that has gone meanwhile is skipped. Resolves with how many were killed. */
  async kill(ids: number[]): Promise<number> {
    let killed = 0;
    for (const id of ids) {
      try {
        await this.query(`KILL ${Number(id)}`);
        killed++;
      } catch (error) {
        if ((error as { code?: string }).code !== 'ER_NO_SUCH_THREAD') throw error;
      }
    }
    return killed;
  }

  /** Creates the module's tables with its own migration (what `database.migrationsRun` does at startup). */
  async createTables(table: string): Promise<void> {
    const ds = new DataSource({ type: 'mysql', url: MYSQL_URL });
    await ds.initialize();
    const runner = ds.createQueryRunner();
    try {
      for (const Migration of presenceMigrations) await new Migration(table).up(runner);
    } finally {
      await runner.release();
      await ds.destroy();
    }
  }

  async dropTables(table: string): Promise<void> {
    const names = Object.values(presenceTableNames(table)).map((name) => `\`${name}\``);
    await this.query(`DROP TABLE IF EXISTS ${names.join(', ')}`);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
