import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { PresenceConfig } from '../options/presence.config.js';
import type { SessionStatus, UserStatus, UsercountType } from '../options/presence-options.interface.js';
import type { PresenceSession } from '../presence-session.interface.js';
import { presenceMigrations } from './migrations/index.js';
import { presenceTableNames, type PresenceTableNames } from './presence-tables.js';
import { dialectOf, fromSqlTime, toSqlTime, type SqlDialect } from './sql-dialect.js';
import { assertDatabaseDriver } from './database-driver.js';

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


export interface StatusChange {
  userId: string;
  from: UserStatus;
  to: UserStatus;
}

/** One member of a channel: a user, with the status of their sockets in that channel. */
export interface ChannelMember {
  userId: string;
  status: SessionStatus;
}

/** How a channel's members changed in one transaction, numbered per channel. */
export interface ChannelDiff {
  channel: string;
  seq: number;
  joins: ChannelMember[];
  leaves: ChannelMember[];
  updates: ChannelMember[];
}

/**
 * Status transitions committed by one transaction; `deferred` users went sessionless but wait out the grace;
 * `channels` are the channel presence diffs of the same transaction.
 */
export interface Transitions {
  changes: StatusChange[];
  deferred: string[];
  channels?: ChannelDiff[];
}

/** Sockets whose rows a statement removed, with their users. */
export interface RemovedSockets extends Transitions {
  sockets: Array<{ socketId: string; userId: string | null }>;
}

/** MySQL errors after which the same transaction simply runs again. */
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);

/** Statements inside a transaction. */
export interface Tx {
  exec(sql: string, params: unknown[]): Promise<number>;
  rows<T>(sql: string, params: unknown[]): Promise<T[]>;
}

export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: Date;
}

const INSTANCE_COLUMNS = ['SCP_instance_id', 'SCP_host', 'SCP_pid', 'SCP_started', 'SCP_heartbeat'] as const;
const MEMBER_COLUMNS = ['SCP_channel', 'SCP_user_id', 'SCP_status'] as const;
const STATUS_COLUMNS = ['SCP_user_id', 'SCP_status', 'SCP_changed', 'SCP_last_seen'] as const;
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
  /** Pooled connections whose session is already READ COMMITTED. */
  private readonly readCommitted = new WeakSet<object>();
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
      assertDatabaseDriver(database.options.type);
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

  /**
   * Applies one flush and the status transitions it causes, in one transaction: the socket rows are written,
   * then the users' status rows are locked, their sessions aggregated and the changed ones written. Whoever
   * commits a change is the only one to see it as a change, so hooks fire once in the whole cluster.
   * With `reconcile`, rows of this instance not written by this batch are deleted as ghosts (after an outage).
   */
  async write(
    batch: WriteBatch,
    instanceId: string,
    now: Date,
    options: { users: Iterable<string>; deferOffline: boolean; reconcile?: boolean },
  ): Promise<Transitions & { ghosts: number }> {
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
    // Materialised once: a deadlock runs the callback again, and an iterator would be spent by then.
    const affected = [...options.users];
    const statements =
      Math.ceil(batch.removedSockets.length / CHUNK) + Math.ceil(batch.removedChannels.length / CHUNK) + Math.ceil(rows.length / CHUNK);
    // A lone statement with no status to decide is atomic by itself: no transaction around it.
    const run = affected.length === 0 && !options.reconcile && statements <= 1 ? this.direct : this.transaction.bind(this);
    return run(async (tx) => {
      const users = new Set(affected);
      await this.deleteSockets(tx, batch.removedSockets);
      for (const part of chunks(batch.removedChannels)) {
        await tx.exec(
          `DELETE FROM ${this.t('sockets')} WHERE ${part.map(() => '(SCP_socket_id = ? AND SCP_channel = ?)').join(' OR ')}`,
          part.flatMap((r) => [r.socketId, r.channel]),
        );
      }
      for (const part of chunks(rows)) {
        await tx.exec(this.dialect.upsert(this.tables.sockets, ROW_COLUMNS, part.length, ROW_KEY, ROW_UPDATE), part.flat());
      }
      let ghosts = 0;
      if (options.reconcile) {
        // Every live row of this instance is in this batch: any other row of it is a ghost. Compared by key,
        // not by time, so a heartbeat that refreshed the ghosts meanwhile cannot save them.
        const written = new Set(rows.map((row) => `${row[0]}\u0000${row[2]}`));
        const mine = await tx.rows<{ SCP_socket_id: string; SCP_channel: string; SCP_user_id: string | null }>(
          `SELECT SCP_socket_id, SCP_channel, SCP_user_id FROM ${this.t('sockets')} WHERE SCP_instance_id = ?`,
          [instanceId],
        );
        const stale = mine.filter((row) => !written.has(`${row.SCP_socket_id}\u0000${row.SCP_channel}`));
        for (const row of stale) if (row.SCP_user_id !== null) users.add(row.SCP_user_id);
        for (const part of chunks(stale)) {
          ghosts += await tx.exec(
            `DELETE FROM ${this.t('sockets')} WHERE ${part.map(() => '(SCP_socket_id = ? AND SCP_channel = ?)').join(' OR ')}`,
            part.flatMap((row) => [row.SCP_socket_id, row.SCP_channel]),
          );
        }
      }
      return { ...(await this.transitions(tx, [...users], now, options.deferOffline)), ghosts };
    });
  }

  /** Recomputes the status of `users` from the table (after a grace period, or to repair a status row). */
  recompute(users: string[], now: Date): Promise<Transitions> {
    if (users.length === 0) return Promise.resolve({ changes: [], deferred: [] });
    return this.transaction((tx) => this.transitions(tx, users, now, false));
  }

  /**
   * Renews this instance's lease and refreshes SCP_updated of all its rows: two statements, whatever the
   * socket count. Returns how many socket rows were refreshed, so that rows lost behind the instance's back
   * (collected during a long pause) can be noticed.
   */
  async heartbeat(instance: InstanceInfo, now: Date): Promise<number> {
    const at = toSqlTime(now);
    // Outside a transaction, but GC's deletes can still deadlock with the UPDATE: retried like a transaction.
    await this.retrying(() =>
      this.run(
        this.dialect.upsert(this.tables.instances, INSTANCE_COLUMNS, 1, ['SCP_instance_id'], ['SCP_heartbeat']),
        [instance.id, instance.host, instance.pid, toSqlTime(instance.startedAt), at],
      ),
    );
    return this.retrying(() => this.run(`UPDATE ${this.t('sockets')} SET SCP_updated = ? WHERE SCP_instance_id = ?`, [at, instance.id]));
  }

  /**
   * Registers this instance. If no other instance is alive (lease renewed since `cutoff`), this is a cold
   * start: every old row is dropped and every user set offline, once. On MySQL a named lock makes the check
   * and the registration one step, so two instances starting together cannot both do it.
   */
  async register(instance: InstanceInfo, cutoff: Date, now: Date): Promise<{ coldStart: boolean }> {
    const locked = async () => {
      const others = await this.select<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM ${this.t('instances')} WHERE SCP_heartbeat >= ? AND SCP_instance_id <> ?`,
        [toSqlTime(cutoff), instance.id],
      );
      const coldStart = Number(others[0].n) === 0;
      if (coldStart) {
        const at = toSqlTime(now);
        await this.transaction(async (tx) => {
          await tx.exec(`DELETE FROM ${this.t('sockets')}`, []);
          await tx.exec(`DELETE FROM ${this.t('instances')}`, []);
          await tx.exec(`DELETE FROM ${this.t('members')}`, []);
          await tx.exec(`UPDATE ${this.t('status')} SET SCP_status = 'offline', SCP_changed = ?, SCP_last_seen = ? WHERE SCP_status <> 'offline'`, [at, at]);
        });
      }
      await this.heartbeat(instance, now);
      return { coldStart };
    };
    if (this.isSqlite) return locked();
    return this.withRunner(async (runner) => {
      const name = `scp-start:${this.tables.sockets}`;
      const [{ got }] = (await runner.query('SELECT GET_LOCK(?, 30) AS got', [name])) as Array<{ got: number | string | null }>;
      if (Number(got) !== 1) throw new Error(`could not take the startup lock '${name}' within 30 s`);
      try {
        return await locked();
      } finally {
        await runner.query('SELECT RELEASE_LOCK(?)', [name]);
      }
    });
  }

  /**
   * The leases in one read: the GC leader (the oldest instance whose lease is current) and the instances whose
   * lease expired before `cutoff`.
   */
  async leases(cutoff: Date): Promise<{ leader?: string; dead: string[] }> {
    const rows = await this.select<{ SCP_instance_id: string; live: number | string | boolean }>(
      `SELECT SCP_instance_id, CASE WHEN SCP_heartbeat >= ? THEN 1 ELSE 0 END AS live FROM ${this.t('instances')}
       ORDER BY SCP_started, SCP_instance_id`,
      [toSqlTime(cutoff)],
    );
    return {
      leader: rows.find((r) => Number(r.live) === 1)?.SCP_instance_id,
      dead: rows.filter((r) => Number(r.live) !== 1).map((r) => r.SCP_instance_id),
    };
  }

  /**
   * Removes a dead instance's rows and runs its users' transitions. Whoever deletes the lease row does the
   * rest; a second reaper finds no lease to delete and returns null, so the cleanup is reported once.
   */
  reapInstance(instanceId: string, cutoff: Date, now: Date): Promise<RemovedSockets | null> {
    return this.transaction(async (tx) => {
      const gone = await tx.exec(`DELETE FROM ${this.t('instances')} WHERE SCP_instance_id = ? AND SCP_heartbeat < ?`, [
        instanceId, toSqlTime(cutoff),
      ]);
      if (gone === 0) return null;
      return this.removeSocketsIn(tx, 'SCP_instance_id = ?', [instanceId], now, false);
    });
  }

  /** Graceful shutdown: every row of this instance and its lease, with the status transitions that follow. */
  removeInstance(instanceId: string, now: Date, deferOffline: boolean): Promise<RemovedSockets> {
    return this.transaction(async (tx) => {
      await tx.exec(`DELETE FROM ${this.t('instances')} WHERE SCP_instance_id = ?`, [instanceId]);
      return this.removeSocketsIn(tx, 'SCP_instance_id = ?', [instanceId], now, deferOffline);
    });
  }

  /**
   * Deletes rows not refreshed since `cutoff` (rows no live instance owns: dead instances are reaped by
   * lease first), and takes offline the users left without a session. Also repairs status rows that say
   * online or idle for a user with no session and no change since `statusCutoff` (an instance that died
   * during a user's offline grace).
   */
  async collectGarbage(cutoff: Date, statusCutoff: Date, now: Date): Promise<RemovedSockets & { rows: number }> {
    let rows = 0;
    // Usually nothing is stale: one cheap read instead of a locking transaction.
    const [stale] = await this.select(`SELECT 1 AS x FROM ${this.t('sockets')} WHERE SCP_updated < ? LIMIT 1`, [toSqlTime(cutoff)]);
    const removed: RemovedSockets = !stale ? { sockets: [], changes: [], deferred: [] } : await this.transaction(async (tx) => {
      const found = await this.removeSocketsIn(tx, 'SCP_updated < ?', [toSqlTime(cutoff)], now, false);
      // Channel rows left without their presence row; presence rows go only through the locked select above.
      rows = found.sockets.length + (await tx.exec(
        `DELETE FROM ${this.t('sockets')} WHERE SCP_updated < ? AND SCP_channel <> ?`, [toSqlTime(cutoff), this.presenceChannel]));
      return found;
    });
    const orphans = await this.select<{ SCP_user_id: string }>(
      `SELECT s.SCP_user_id FROM ${this.t('status')} s WHERE s.SCP_status <> 'offline' AND s.SCP_last_seen < ?
       AND NOT EXISTS (SELECT 1 FROM ${this.t('sockets')} t WHERE t.SCP_channel = ? AND t.SCP_user_id = s.SCP_user_id)`,
      [toSqlTime(statusCutoff), this.presenceChannel],
    );
    const repaired = await this.recompute(orphans.map((o) => o.SCP_user_id), now);
    return { ...removed, rows, changes: [...removed.changes, ...repaired.changes] };
  }

  /** Inside a transaction: deletes every row of the sockets whose presence row matches `where`, then runs the transitions. */
  private async removeSocketsIn(tx: Tx, where: string, params: unknown[], now: Date, deferOffline: boolean): Promise<RemovedSockets> {
    const found = await tx.rows<{ SCP_socket_id: string; SCP_user_id: string | null }>(
      // Locked: a heartbeat refreshing these rows meanwhile waits, so what is reported is what is deleted.
      `SELECT SCP_socket_id, SCP_user_id FROM ${this.t('sockets')} WHERE SCP_channel = ? AND ${where}${this.dialect.forUpdate}`,
      [this.presenceChannel, ...params],
    );
    const sockets = found.map((r) => ({ socketId: r.SCP_socket_id, userId: r.SCP_user_id }));
    await this.deleteSockets(tx, sockets.map((s) => s.socketId));
    const users = [...new Set(sockets.flatMap((s) => (s.userId === null ? [] : [s.userId])))];
    return { sockets, ...(await this.transitions(tx, users, now, deferOffline)) };
  }

  private async deleteSockets(tx: Tx, socketIds: string[]): Promise<void> {
    for (const part of chunks(socketIds)) {
      await tx.exec(`DELETE FROM ${this.t('sockets')} WHERE SCP_socket_id IN (${part.map(() => '?').join(', ')})`, part);
    }
  }

  /**
   * Inside a transaction: lock the users' status rows (created as offline when missing), aggregate their
   * sessions in one grouped query, write the statuses that changed. Online if any session is online, idle if
   * all are idle, offline if none; with `deferOffline`, a user left without sessions keeps its status (only
   * SCP_last_seen moves) and is returned in `deferred`.
   */
  private async transitions(tx: Tx, userIds: string[], now: Date, deferOffline: boolean): Promise<Transitions> {
    const result: Transitions = { changes: [], deferred: [] };
    const at = toSqlTime(now);
    const status = this.t('status');
    for (const users of chunks([...new Set(userIds)].sort())) {
      if (users.length === 0) continue;
      const marks = users.map(() => '?').join(', ');
      // Lock the existing rows first, in key order: an INSERT IGNORE on rows that exist would take shared locks
      // that two instances then both try to upgrade (a deadlock). Only users seen for the first time are inserted.
      const lock = (ids: string[]) =>
        tx.rows<{ SCP_user_id: string; SCP_status: UserStatus; changed: string | Date }>(
          `SELECT SCP_user_id, SCP_status, ${this.dialect.timeText('SCP_changed')} AS changed FROM ${status}
           WHERE SCP_user_id IN (${ids.map(() => '?').join(', ')}) ORDER BY SCP_user_id${this.dialect.forUpdate}`,
          ids,
        );
      const current = await lock(users);
      const known = new Set(current.map((row) => row.SCP_user_id));
      const missing = users.filter((u) => !known.has(u));
      if (missing.length > 0) {
        const inserted = await tx.exec(
          `${this.dialect.insertIgnore} INTO ${status} (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ` +
            missing.map(() => `(?, 'offline', ?, ?)`).join(', '),
          missing.flatMap((u) => [u, at, at]),
        );
        // Rows this transaction inserted are locked by it and offline; only if another instance inserted some
        // of them first must they be read (and locked) again.
        if (inserted === missing.length) current.push(...missing.map((u) => ({ SCP_user_id: u, SCP_status: 'offline' as const, changed: at })));
        else current.push(...(await lock(missing)));
      }
      const sessions = await tx.rows<{ SCP_user_id: string; online: number | string; n: number | string }>(
        `SELECT SCP_user_id, SUM(CASE WHEN SCP_status = 'online' THEN 1 ELSE 0 END) AS online, COUNT(*) AS n
         FROM ${this.t('sockets')} WHERE SCP_channel = ? AND SCP_user_id IN (${marks}) GROUP BY SCP_user_id`,
        [this.presenceChannel, ...users]);
      const live = new Map(sessions.map((s) => [s.SCP_user_id, Number(s.online) > 0 ? 'online' : 'idle'] as const));
      const writes: unknown[][] = [];
      for (const { SCP_user_id: userId, SCP_status: from, changed } of current) {
        const to: UserStatus = live.get(userId) ?? 'offline';
        if (to === 'offline' && deferOffline && from !== 'offline') {
          result.deferred.push(userId);
          // Status and change time stay as they are; only SCP_last_seen moves, which starts the grace.
          writes.push([userId, from, toSqlTime(fromSqlTime(changed)), at]);
        } else if (to !== from) {
          result.changes.push({ userId, from, to });
          writes.push([userId, to, at, at]);
        }
      }
      for (const part of chunks(writes)) {
        await tx.exec(
          this.dialect.upsert(this.tables.status, STATUS_COLUMNS, part.length, ['SCP_user_id'], STATUS_COLUMNS.slice(1)),
          part.flat(),
        );
      }
    }
    // After every status lock (chunks included): channel rows are locked last, in key order, by everyone.
    result.channels = await this.memberships(tx, [...new Set(userIds)].sort());
    return result;
  }

  /**
   * Channel presence, under the users' status-row locks (so no other instance changes these users meanwhile):
   * aggregate each user's sockets per channel, compare with the members as last published, write the
   * difference and number each changed channel's diff.
   */
  private async memberships(tx: Tx, users: string[]): Promise<ChannelDiff[]> {
    const presence = this.config.options.channelPresence;
    if (!presence || users.length === 0) return [];
    const key = (channel: string, userId: string) => `${channel}\u0000${userId}`;
    const after = new Map<string, ChannelMember & { channel: string }>();
    const before = new Map<string, ChannelMember & { channel: string }>();
    for (const part of chunks(users)) {
      const marks = part.map(() => '?').join(', ');
      const live = await tx.rows<{ SCP_channel: string; SCP_user_id: string; online: number | string }>(
        `SELECT SCP_channel, SCP_user_id, SUM(CASE WHEN SCP_status = 'online' THEN 1 ELSE 0 END) AS online
         FROM ${this.t('sockets')} WHERE SCP_user_id IN (${marks}) AND SCP_channel <> ? GROUP BY SCP_channel, SCP_user_id`,
        [...part, this.presenceChannel],
      );
      for (const row of live) {
        if (!presence.matches(row.SCP_channel)) continue;
        const status: SessionStatus = Number(row.online) > 0 ? 'online' : 'idle';
        after.set(key(row.SCP_channel, row.SCP_user_id), { channel: row.SCP_channel, userId: row.SCP_user_id, status });
      }
      const published = await tx.rows<{ SCP_channel: string; SCP_user_id: string; SCP_status: SessionStatus }>(
        `SELECT SCP_channel, SCP_user_id, SCP_status FROM ${this.t('members')} WHERE SCP_user_id IN (${marks})`,
        part,
      );
      for (const row of published) {
        before.set(key(row.SCP_channel, row.SCP_user_id), { channel: row.SCP_channel, userId: row.SCP_user_id, status: row.SCP_status });
      }
    }
    const diffs = new Map<string, ChannelDiff>();
    const diffOf = (channel: string) => {
      let diff = diffs.get(channel);
      if (!diff) diffs.set(channel, (diff = { channel, seq: 0, joins: [], leaves: [], updates: [] }));
      return diff;
    };
    const upserts: unknown[][] = [];
    const deletes: Array<[string, string]> = [];
    for (const [k, member] of after) {
      const was = before.get(k);
      if (!was) diffOf(member.channel).joins.push({ userId: member.userId, status: member.status });
      else if (was.status !== member.status) diffOf(member.channel).updates.push({ userId: member.userId, status: member.status });
      else continue;
      upserts.push([member.channel, member.userId, member.status]);
    }
    for (const [k, member] of before) {
      if (after.has(k)) continue;
      diffOf(member.channel).leaves.push({ userId: member.userId, status: member.status });
      deletes.push([member.channel, member.userId]);
    }
    if (diffs.size === 0) return [];
    for (const part of chunks(upserts)) {
      await tx.exec(this.dialect.upsert(this.tables.members, MEMBER_COLUMNS, part.length, ['SCP_channel', 'SCP_user_id'], ['SCP_status']), part.flat());
    }
    for (const part of chunks(deletes)) {
      await tx.exec(
        `DELETE FROM ${this.t('members')} WHERE ${part.map(() => '(SCP_channel = ? AND SCP_user_id = ?)').join(' OR ')}`,
        part.flat(),
      );
    }
    const channels = [...diffs.keys()].sort();
    for (const part of chunks(channels)) {
      await tx.exec(this.dialect.upsertCounter(this.tables.channels, 'SCP_channel', 'SCP_seq', part.length), part);
      const seqs = await tx.rows<{ SCP_channel: string; SCP_seq: number | string }>(
        `SELECT SCP_channel, SCP_seq FROM ${this.t('channels')} WHERE SCP_channel IN (${part.map(() => '?').join(', ')})`,
        part,
      );
      for (const row of seqs) diffs.get(row.SCP_channel)!.seq = Number(row.SCP_seq);
    }
    return channels.map((channel) => diffs.get(channel)!);
  }

  /** The members of a channel as last published, and the seq of that state, read in one consistent statement. */
  async channelSnapshot(channel: string): Promise<{ seq: number; members: ChannelMember[] }> {
    const rows = await this.select<{ SCP_user_id: string | null; SCP_status: SessionStatus | null; seq: number | string | null }>(
      `SELECT m.SCP_user_id, m.SCP_status, (SELECT SCP_seq FROM ${this.t('channels')} WHERE SCP_channel = ?) AS seq
       FROM ${this.t('members')} m WHERE m.SCP_channel = ?
       UNION ALL SELECT NULL, NULL, (SELECT SCP_seq FROM ${this.t('channels')} WHERE SCP_channel = ?)`,
      [channel, channel, channel],
    );
    const members = rows
      .filter((r) => r.SCP_user_id !== null)
      .map((r) => ({ userId: r.SCP_user_id!, status: r.SCP_status! }))
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    return { seq: Number(rows[rows.length - 1]?.seq ?? 0), members };
  }

  /** The stored status of each user (offline when never seen). */
  async statuses(userIds: string[]): Promise<Map<string, { status: UserStatus; changedAt: Date; lastSeen: Date | null }>> {
    const out = new Map<string, { status: UserStatus; changedAt: Date; lastSeen: Date | null }>();
    for (const users of chunks([...new Set(userIds)])) {
      const rows = await this.select<{ SCP_user_id: string; SCP_status: UserStatus; changed: string | Date; seen: string | Date | null }>(
        `SELECT SCP_user_id, SCP_status, ${this.dialect.timeText('SCP_changed')} AS changed, ${this.dialect.timeText('SCP_last_seen')} AS seen
         FROM ${this.t('status')} WHERE SCP_user_id IN (${users.map(() => '?').join(', ')})`,
        users,
      );
      for (const row of rows) {
        out.set(row.SCP_user_id, { status: row.SCP_status, changedAt: fromSqlTime(row.changed), lastSeen: row.seen ? fromSqlTime(row.seen) : null });
      }
    }
    return out;
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

  async sessionsOfUsers(userIds: string[]): Promise<PresenceSession[]> {
    const out: PresenceSession[] = [];
    for (const users of chunks([...new Set(userIds)])) {
      out.push(...(await this.sessions(`SCP_channel = ? AND SCP_user_id IN (${users.map(() => '?').join(', ')})`, [this.presenceChannel, ...users])));
    }
    return out;
  }

  sessionsInChannel(channel: string): Promise<PresenceSession[]> {
    return this.sessions('SCP_channel = ?', [channel]);
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

  /** Statements outside a transaction, for a write that is one statement. */
  private readonly direct = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> =>
    fn({ exec: (sql, params) => this.run(sql, params), rows: (sql, params) => this.select(sql, params) });

  /** Runs `work` again after a deadlock or a lock wait timeout, up to `attempts` times in all. */
  private async retrying<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string; driverError?: { code?: string } }).driverError?.code ?? (error as { code?: string }).code;
      if (attempts > 1 && code && RETRYABLE.has(code)) return this.retrying(work, attempts - 1);
      throw error;
    }
  }

  /**
   * READ COMMITTED for MySQL transactions. On the module's own pool each connection is switched once for its
   * session, which saves a statement per transaction; a shared DataSource is left as the app set it, and
   * each transaction names its level.
   */
  private async isolation(runner: QueryRunner): Promise<'READ COMMITTED' | undefined> {
    if (this.isSqlite) return undefined;
    if (!this.ownsDataSource) return 'READ COMMITTED';
    await runner.connect();
    const connection = (runner as unknown as { databaseConnection?: object }).databaseConnection;
    if (!connection) return 'READ COMMITTED';
    if (!this.readCommitted.has(connection)) {
      await runner.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      this.readCommitted.add(connection);
    }
    return undefined;
  }

  private select<T>(sql: string, params: unknown[]): Promise<T[]> {
    return this.connection.query(sql, params) as Promise<T[]>;
  }

  /** Runs one statement and returns the number of rows it changed. */
  private run(sql: string, params: unknown[]): Promise<number> {
    return this.withRunner(async (runner) => (await runner.query(sql, params, true)).affected ?? 0);
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED on MySQL, so reads after a lock see what others committed);
   * a deadlock runs it again. On SQLite, transactions of this process are queued one after another.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>, attempts = 3): Promise<T> {
    const work = () =>
      this.withRunner(async (runner) => {
        await runner.startTransaction(await this.isolation(runner));
        try {
          const result = await fn({
            exec: async (sql, params) => (await runner.query(sql, params, true)).affected ?? 0,
            rows: (sql, params) => runner.query(sql, params),
          });
          await runner.commitTransaction();
          return result;
        } catch (error) {
          if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
          throw error;
        }
      });
    if (!this.isSqlite) return this.retrying(work, attempts);
    const next = this.sqliteQueue.then(() => work(), () => work());
    this.sqliteQueue = next.catch(() => undefined);
    return next;
  }
}
