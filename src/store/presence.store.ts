import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { PresenceConfig } from '../options/presence.config.js';
import type { SessionStatus, UsercountType } from '../options/presence-options.interface.js';
import type { PresenceSession } from '../presence-session.interface.js';
import { presenceMigrations } from './migrations/index.js';
import { presenceTableNames, type PresenceTableNames } from './presence-tables.js';
import { dialectOf, fromSqlTime, toSqlTime, type SqlDialect } from './sql-dialect.js';

/** What one socket of this instance should look like in the table. */
export interface SocketRecord {
  socketId: string;
  userId: string | null;
  authToken: string | null;
  ip: string | null;
  origin: string | null;
  status: SessionStatus;
  connectedAt: Date;
}

/** One flush of the write queue: applied with a handful of statements, whatever its size. */
export interface WriteBatch {
  /** Rows to insert or re-key: the socket's presence row (when `presence`) and the listed channels. */
  upserts: Array<{ socket: SocketRecord; presence: boolean; channels: string[] }>;
  /** Sockets gone: every row of theirs is deleted. */
  removedSockets: string[];
  /** Subscriptions ended on sockets that stay. */
  removedChannels: Array<{ socketId: string; channel: string }>;
}


const ROW_COLUMNS = [
  'SCP_socket_id', 'SCP_user_id', 'SCP_channel', 'SCP_updated', 'SCP_authToken', 'SCP_ip', 'SCP_origin',
  'SCP_instance_id', 'SCP_status', 'SCP_connected',
] as const;
const ROW_KEY = ['SCP_socket_id', 'SCP_channel'] as const;
const ROW_UPDATE = ['SCP_user_id', 'SCP_updated', 'SCP_authToken', 'SCP_ip', 'SCP_origin', 'SCP_instance_id', 'SCP_status'] as const;
/** Rows per INSERT and ids per DELETE: far below both servers' placeholder limits. */
const CHUNK = 500;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The only code that speaks SQL. Every method is one or a few statements, never one per socket. */
@Injectable()
export class PresenceStore {
  private dataSource?: DataSource;
  private ownsDataSource = false;
  private dialect!: SqlDialect;
  private tables!: PresenceTableNames;
  private presenceChannel!: string;
  /** better-sqlite3 has one connection: its transactions must not interleave. */
  private sqliteQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: PresenceConfig,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  get isSqlite(): boolean {
    return this.dialect.kind === 'sqlite';
  }

  /** The DataSource in use (the module's own, or the one named by `database.dataSourceName`). */
  get connection(): DataSource {
    if (!this.dataSource) throw new Error('PresenceStore is not initialised yet: wait for app.init()');
    return this.dataSource;
  }

  async init(): Promise<void> {
    const { database, tableName, presenceChannel } = this.config.options;
    this.tables = presenceTableNames(tableName);
    this.presenceChannel = presenceChannel;
    if (database.kind === 'shared') {
      const token = getDataSourceToken(database.dataSourceName);
      const found = this.moduleRef.get<DataSource>(token as never, { strict: false });
      if (!(found instanceof DataSource)) {
        throw new Error(
          `database.dataSourceName '${database.dataSourceName}' names no TypeORM DataSource: import ` +
            'TypeOrmModule.forRoot() with that name before PresenceModule',
        );
      }
      this.dataSource = found;
      if (!found.isInitialized) await found.initialize();
    } else {
      this.dataSource = new DataSource({ ...database.options, entities: [], migrations: [], subscribers: [] } as never);
      this.ownsDataSource = true;
      await this.dataSource.initialize();
    }
    this.dialect = dialectOf(this.dataSource);
    if (database.migrationsRun) {
      await this.withRunner(async (runner) => {
        for (const Migration of presenceMigrations) await new Migration(tableName).up(runner);
      });
    }
  }

  async close(): Promise<void> {
    if (this.ownsDataSource && this.dataSource?.isInitialized) await this.dataSource.destroy();
  }

  // ---------------------------------------------------------------- writes

  async write(batch: WriteBatch, instanceId: string, now: Date): Promise<void> {
    const updated = toSqlTime(now);
    const rows: unknown[][] = [];
    for (const { socket, presence, channels } of batch.upserts) {
      const base = (channel: string) => [
        socket.socketId, socket.userId, channel, updated, socket.authToken, socket.ip, socket.origin, instanceId,
        socket.status, toSqlTime(socket.connectedAt),
      ];
      if (presence) rows.push(base(this.presenceChannel));
      for (const channel of channels) rows.push(base(channel));
    }
    await this.transaction(async (run) => {
      for (const part of chunks(batch.removedSockets)) {
        await run(`DELETE FROM ${this.t('sockets')} WHERE SCP_socket_id IN (${part.map(() => '?').join(', ')})`, part);
      }
      for (const part of chunks(batch.removedChannels)) {
        await run(
          `DELETE FROM ${this.t('sockets')} WHERE ${part.map(() => '(SCP_socket_id = ? AND SCP_channel = ?)').join(' OR ')}`,
          part.flatMap((r) => [r.socketId, r.channel]),
        );
      }
      for (const part of chunks(rows)) {
        await run(this.dialect.upsert(this.tables.sockets, ROW_COLUMNS, part.length, ROW_KEY, ROW_UPDATE), part.flat());
      }
    });
  }

  /** Renews this instance's lease and refreshes SCP_updated of all its rows: two statements, whatever the socket count. */
  async heartbeat(instance: { id: string; host: string; pid: number; startedAt: Date }, now: Date): Promise<void> {
    const at = toSqlTime(now);
    await this.run(
      this.dialect.upsert(this.tables.instances, ['SCP_instance_id', 'SCP_host', 'SCP_pid', 'SCP_started', 'SCP_heartbeat'], 1,
        ['SCP_instance_id'], ['SCP_heartbeat']),
      [instance.id, instance.host, instance.pid, toSqlTime(instance.startedAt), at],
    );
    await this.run(`UPDATE ${this.t('sockets')} SET SCP_updated = ? WHERE SCP_instance_id = ?`, [at, instance.id]);
  }

  /** Deletes this instance's rows not written since `since`: ghosts of sockets that closed while writes failed. */
  async removeStaleRowsOf(instanceId: string, since: Date): Promise<number> {
    return this.run(`DELETE FROM ${this.t('sockets')} WHERE SCP_instance_id = ? AND SCP_updated < ?`, [instanceId, toSqlTime(since)]);
  }

  /** Graceful shutdown: every row of this instance and its lease. */
  async removeInstance(instanceId: string): Promise<number> {
    const removed = await this.run(`DELETE FROM ${this.t('sockets')} WHERE SCP_instance_id = ?`, [instanceId]);
    await this.run(`DELETE FROM ${this.t('instances')} WHERE SCP_instance_id = ?`, [instanceId]);
    return removed;
  }

  /**
   * Deletes rows and leases not refreshed since `cutoff`. Returns the sockets whose presence row went, so
   * that their users' status can follow.
   */
  async collectGarbage(cutoff: Date): Promise<{ rows: number; sockets: Array<{ socketId: string; userId: string | null }> }> {
    const at = toSqlTime(cutoff);
    const stale = await this.select<{ SCP_socket_id: string; SCP_user_id: string | null }>(
      `SELECT SCP_socket_id, SCP_user_id FROM ${this.t('sockets')} WHERE SCP_channel = ? AND SCP_updated < ?`,
      [this.presenceChannel, at],
    );
    const rows = await this.run(`DELETE FROM ${this.t('sockets')} WHERE SCP_updated < ?`, [at]);
    await this.run(`DELETE FROM ${this.t('instances')} WHERE SCP_heartbeat < ?`, [at]);
    return { rows, sockets: stale.map((r) => ({ socketId: r.SCP_socket_id, userId: r.SCP_user_id })) };
  }

  // ---------------------------------------------------------------- reads

  /** USERS / SOCKETS / SUBSCRIPTIONS over the whole cluster, or within one channel. */
  async count(type: UsercountType, channel?: string): Promise<number> {
    const table = this.t('sockets');
    if (type === 'subscriptions' && channel === undefined) {
      const [row] = await this.select<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE SCP_channel <> ?`, [this.presenceChannel]);
      return Number(row.n);
    }
    const where = channel ?? this.presenceChannel;
    if (type === 'users') {
      // Distinct user ids, plus one per anonymous socket (COUNT(column) skips the NULLs that COUNT(*) counts).
      const [row] = await this.select<{ u: number | string; a: number | string }>(
        `SELECT COUNT(DISTINCT SCP_user_id) AS u, COUNT(*) - COUNT(SCP_user_id) AS a FROM ${table} WHERE SCP_channel = ?`,
        [where],
      );
      return Number(row.u) + Number(row.a);
    }
    const [row] = await this.select<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE SCP_channel = ?`, [where]);
    return Number(row.n);
  }

  sessionsOfUsers(userIds: string[]): Promise<PresenceSession[]> {
    if (userIds.length === 0) return Promise.resolve([]);
    return this.sessions(`SCP_channel = ? AND SCP_user_id IN (${userIds.map(() => '?').join(', ')})`, [this.presenceChannel, ...userIds]);
  }

  sessionsInChannel(channel: string): Promise<PresenceSession[]> {
    return this.sessions('SCP_channel = ?', [channel]);
  }

  sessionsOfSockets(socketIds: string[]): Promise<PresenceSession[]> {
    if (socketIds.length === 0) return Promise.resolve([]);
    return this.sessions(`SCP_socket_id IN (${socketIds.map(() => '?').join(', ')})`, socketIds);
  }

  /** Sessions (sockets with a presence row) selected by a condition on any of their rows, with all their channels. */
  private async sessions(condition: string, params: unknown[]): Promise<PresenceSession[]> {
    const table = this.t('sockets');
    const rows = await this.select<{
      SCP_socket_id: string; SCP_user_id: string | null; SCP_channel: string; SCP_status: SessionStatus;
      SCP_instance_id: string; SCP_ip: string | null; SCP_origin: string | null; connected: string | Date; updated: string | Date;
    }>(
      `SELECT SCP_socket_id, SCP_user_id, SCP_channel, SCP_status, SCP_instance_id, SCP_ip, SCP_origin,
        ${this.dialect.timeText('SCP_connected')} AS connected, ${this.dialect.timeText('SCP_updated')} AS updated
       FROM ${table} WHERE SCP_socket_id IN (SELECT SCP_socket_id FROM ${table} WHERE ${condition})
       ORDER BY SCP_socket_id, SCP_id`,
      params,
    );
    const bySocket = new Map<string, PresenceSession>();
    const channels = new Map<string, string[]>();
    for (const row of rows) {
      if (row.SCP_channel === this.presenceChannel) {
        bySocket.set(row.SCP_socket_id, {
          socketId: row.SCP_socket_id,
          userId: row.SCP_user_id,
          status: row.SCP_status,
          channels: [],
          instanceId: row.SCP_instance_id,
          ip: row.SCP_ip,
          origin: row.SCP_origin,
          connectedAt: fromSqlTime(row.connected),
          updatedAt: fromSqlTime(row.updated),
        });
      } else {
        const list = channels.get(row.SCP_socket_id) ?? [];
        list.push(row.SCP_channel);
        channels.set(row.SCP_socket_id, list);
      }
    }
    for (const [socketId, session] of bySocket) session.channels = channels.get(socketId) ?? [];
    return [...bySocket.values()];
  }

  // ---------------------------------------------------------------- plumbing

  private t(table: keyof PresenceTableNames): string {
    return this.dialect.id(this.tables[table]);
  }

  private async withRunner<T>(fn: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.connection.createQueryRunner();
    try {
      return await fn(runner);
    } finally {
      await runner.release();
    }
  }

  private select<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.connection.query(sql, params) as Promise<T[]>;
  }

  /** Runs one statement and returns the number of rows it changed. */
  private run(sql: string, params: unknown[]): Promise<number> {
    return this.withRunner(async (runner) => (await runner.query(sql, params, true)).affected ?? 0);
  }

  /** Runs `fn` in one transaction; on SQLite, transactions of this process are queued one after another. */
  async transaction<T>(fn: (run: (sql: string, params: unknown[]) => Promise<number>, runner: QueryRunner) => Promise<T>): Promise<T> {
    const work = () =>
      this.withRunner(async (runner) => {
        await runner.startTransaction();
        try {
          const result = await fn(async (sql, params) => (await runner.query(sql, params, true)).affected ?? 0, runner);
          await runner.commitTransaction();
          return result;
        } catch (error) {
          if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
          throw error;
        }
      });
    if (!this.isSqlite) return work();
    const next = this.sqliteQueue.then(work, work);
    this.sqliteQueue = next.catch(() => undefined);
    return next;
  }
}
