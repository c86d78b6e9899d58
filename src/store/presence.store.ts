import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { PresenceConfig } from '../options/presence.config.js';
import { CHECKPOINTS_ON_EVENT_LOOP, DATABASE_CONNECTION_FAILED, NO_DATA_SOURCE, STARTUP_LOCK_TIMEOUT, STORE_NOT_READY } from '../presence.messages.js';
import type { HistoryReason, Member, PresenceSession, SessionHistoryEntry, Transitions, UsercountType, WriteBatch } from '../presence.types.js';
import { HistoryTable, type EndedAt, type RecordEnded } from './history.table.js';
import { InstancesTable, type InstanceInfo } from './instances.table.js';
import { MembersTable } from './members.table.js';
import { presenceMigrations } from './migrations/index.js';
import { hasIndex } from './migrations/schema-probe.util.js';
import { presenceTableNames, type PresenceTableNames } from './presence.tables.js';
import { REFRESH_PART, REFRESH_PART_BUSY, SocketsTable, type RemovedSocket } from './sockets.table.js';
import { dialectOf, type SqlDialect } from './sql.dialect.js';
import { CHUNK, PREFIX_CHUNK, type SqlContext, type SqlNumber, type Tx } from './sql.helpers.js';
import { driverErrorCode, evict, isDeadConnection, within } from './connection.bound.js';
import { StatusTable, type UserStatusRow } from './status.table.js';
import { assertDatabaseDriver } from './database-driver.check.js';
import { checkpointsInThread, withSqliteFileDefaults } from './sqlite-file.defaults.js';
import { SqliteCheckpointThread, type SqliteConnection } from './sqlite-checkpoint.thread.js';
import { openDataSource } from './database-open.error.js';
import { PresenceConfigError, PresenceDatabaseError, PresenceError } from '../presence.errors.js';
import { SerialQueue } from './serial.queue.js';

export type { InstanceInfo } from './instances.table.js';
export type { Tx } from './sql.helpers.js';
/** What the rows of one socket hold (a batch's upserts). */
export type { SocketRow as SocketRecord } from '../presence.types.js';

/** Sockets whose rows a statement removed, with their users, and the transitions that followed. */
export interface RemovedSockets extends Transitions {
  sockets: RemovedSocket[];
}

/** Users whose held memberships one GC pass decides. */
const HELD_SWEEP_LIMIT = 500;
/** Whether a membership's last socket in the channel closed in this transaction (the reconnect grace may hold it). */
type EndedMembership = (channel: string, userId: string) => boolean;
const memberKey = (channel: string, userId: string) => `${channel}\u0000${userId}`;

/** A heartbeat this soon after a flush refreshes in parts of REFRESH_PART_BUSY rows. */
export const REFRESH_BUSY_MS = 1000;
/** MySQL errors after which the same transaction simply runs again. */
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
const NO_TRANSITIONS: Transitions = { changes: [], deferred: [], channels: [] };

/**
 * The only code that speaks SQL, as a façade over one module per table (sockets, status, members,
 * instances). It owns the connection, the migrations and the transactions (retries, isolation, the SQLite
 * queue); each operation below is one transaction composed of table statements, never one per socket.
 */
@Injectable()
export class PresenceStore {
  private readonly logger = new Logger('PresenceStore');
  private dataSource?: DataSource;
  private checkpoints?: SqliteCheckpointThread;
  private ownsDataSource = false;
  private sql!: SqlContext;
  private sockets!: SocketsTable;
  private status!: StatusTable;
  private members?: MembersTable;
  private instances!: InstancesTable;
  private history?: HistoryTable;
  /** Pooled connections whose session is already READ COMMITTED, with the server-side bounds. */
  private readonly readCommitted = new WeakSet<object>();
  /** Whether the server knows `idle_transaction_timeout` (MariaDB does, MySQL does not): cleared on the first refusal. */
  private idleTransactionTimeout = true;
  /** better-sqlite3 has one connection: its transactions must not interleave. */
  private readonly sqliteQueue = new SerialQueue();
  /** Per instance id: the writes of that instance's own socket rows, one at a time (see `ownRows`). */
  private readonly ownRowQueues = new Map<string, SerialQueue>();
  /** Calls of `write`: a heartbeat in parts tells by it whether flushes wrote between its parts. */
  private writes = 0;
  /** When `write` was last called: a heartbeat while flushes come goes in short parts. */
  private lastWriteAt = 0;

  constructor(
    private readonly config: PresenceConfig,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  get isSqlite(): boolean {
    return this.sql.dialect.kind === 'sqlite';
  }

  /** The DataSource in use (the module's own, or the one named by `database.dataSourceName`). */
  get connection(): DataSource {
    if (!this.dataSource) throw new Error(STORE_NOT_READY);
    return this.dataSource;
  }

  async init(): Promise<void> {
    const { database, tableName, presenceChannel, channelPresence } = this.config.options;
    if (database.kind === 'shared') {
      const found = this.sharedDataSource(database.dataSourceName);
      this.dataSource = found;
      if (!found.isInitialized) await openDataSource(found, found.options);
    } else {
      assertDatabaseDriver(database.options.type);
      const { statementTimeoutMs } = this.config.options;
      // mysql2 gives up on a connection attempt to a silent peer by itself. Queries are bounded here instead of
      // with the driver's query timeout, which TypeORM would also log as a slow query each time it fires.
      const bounds = database.options.type === 'better-sqlite3' ? {} : { connectTimeout: statementTimeoutMs };
      const connection = withSqliteFileDefaults(database.options as typeof database.options & { type: string });
      this.dataSource = new DataSource({ ...bounds, ...connection, entities: [], migrations: [], subscribers: [] } as never);
      this.ownsDataSource = true;
      await openDataSource(this.dataSource, connection);
    }
    const dialect: SqlDialect = dialectOf(this.dataSource);
    const tables = presenceTableNames(tableName);
    this.sql = { dialect, tables, presenceChannel, t: (table: keyof PresenceTableNames) => dialect.id(tables[table]) };
    if (database.migrationsRun) {
      await this.withRunner(async (runner) => {
        for (const Migration of presenceMigrations) await new Migration(tableName).up(runner);
      });
    }
    // A table made by hand may lack an index; then its statements go without the hint rather than failing.
    const hint = async (index: string) =>
      dialect.kind === 'mysql' && (await this.withRunner((runner) => hasIndex(runner, tables.sockets, index))) ? index : undefined;
    const [instanceIndex, uniqueIndex] = await Promise.all([hint(`IX_${tables.sockets}_instance`), hint(`UQ_${tables.sockets}_socket_channel`)]);
    this.sockets = new SocketsTable(this.sql, instanceIndex, uniqueIndex);
    this.status = new StatusTable(this.sql, this.sockets);
    this.members = channelPresence ? new MembersTable(this.sql, this.sockets, channelPresence.matches) : undefined;
    this.instances = new InstancesTable(this.sql);
    this.history = this.config.options.history ? new HistoryTable(this.sql) : undefined;
    this.startCheckpoints();
  }

  /** The module's own SQLite file, once it is ready: its log is checkpointed off the event loop (see the thread). */
  private startCheckpoints(): void {
    const { database } = this.config.options;
    const inThread = database.kind === 'shared' ? undefined : checkpointsInThread(database.options as typeof database.options & { type: string });
    if (!inThread || !this.dataSource) return;
    const handle = (this.dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
    this.checkpoints = new SqliteCheckpointThread(handle, (reason) => this.logger.warn(CHECKPOINTS_ON_EVENT_LOOP(reason)), inThread);
    this.checkpoints.start();
  }

  /** The app's DataSource named by `database.dataSourceName`. */
  private sharedDataSource(name: string): DataSource {
    let found: unknown;
    try {
      found = this.moduleRef.get<DataSource>(getDataSourceToken(name) as never, { strict: false });
    } catch {
      // Nest's own "could not find …DataSource element" names neither the option nor the fix.
    }
    if (!(found instanceof DataSource)) throw new PresenceConfigError([NO_DATA_SOURCE(name)]);
    return found;
  }

  /**
   * Closes the module's own pool. Within `ms`, or its connections are destroyed: a pool's end() waits for each
   * connection's goodbye, which a silent partition never answers.
   */
  async close(ms = this.config.options.statementTimeoutMs): Promise<boolean> {
    if (!this.ownsDataSource || !this.dataSource?.isInitialized) return true;
    // Its connection closes first: the event loop's is then the file's last, which checkpoints and removes the log.
    await this.checkpoints?.stop();
    const destroyed = this.dataSource.destroy().then(() => true, () => false);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const closed = await Promise.race([destroyed, late]).finally(() => clearTimeout(timer));
    if (!closed) {
      const pool = (this.dataSource.driver as unknown as { pool?: { _allConnections?: { toArray(): Array<{ destroy(): void }> } } }).pool;
      for (const connection of pool?._allConnections?.toArray() ?? []) connection.destroy();
    }
    return closed;
  }

  // ---------------------------------------------------------------- socket writes (the writer's flush)

  /**
   * Applies one flush and the status transitions it causes, in one transaction: the socket rows are written,
   * then the users' status rows are locked, their sessions aggregated and the changed ones written.
   * With `reconcile`, rows of this instance not written by this batch are deleted as ghosts (after an outage).
   * `lingering`: memberships of sockets that ended in this batch, which the reconnect grace holds.
   */
  async write(
    batch: WriteBatch,
    instanceId: string,
    now: Date,
    options: { users: Iterable<string>; deferOffline: boolean; reconcile?: boolean; lingering?: ReadonlyArray<{ channel: string; userId: string }> },
  ): Promise<Transitions & { ghosts: number }> {
    this.writes++;
    this.lastWriteAt = Date.now();
    const rows = this.sockets.rowsOf(batch, instanceId, now);
    // Materialised once: a deadlock runs the callback again, and an iterator would be spent by then.
    const affected = [...options.users];
    const statusParts = this.sockets.statusParts(batch.statusChanges ?? []);
    const lists = [[batch.removedSockets, PREFIX_CHUNK], [batch.removedChannels, PREFIX_CHUNK], [this.history ? batch.removedSockets : [], CHUNK]] as const;
    const statements = lists.reduce((n, [list, size]) => n + Math.ceil(list.length / size), rows.parts.length + statusParts.length);
    // A lone statement with no status to decide is atomic by itself: no transaction around it.
    const run = affected.length === 0 && !options.reconcile && statements <= 1 ? this.direct : this.transaction.bind(this);
    const lingering = new Set((options.lingering ?? []).map((m) => memberKey(m.channel, m.userId)));
    const ended = lingering.size > 0 ? (channel: string, userId: string) => lingering.has(memberKey(channel, userId)) : undefined;
    return this.ownRows(instanceId, () => run(async (tx) => {
      const users = new Set(affected);
      await this.history?.record(tx, batch.removedSockets, 'disconnect', now);
      await this.sockets.deleteSockets(tx, batch.removedSockets);
      await this.sockets.deleteRows(tx, batch.removedChannels);
      await this.sockets.upsert(tx, rows);
      await this.sockets.setStatus(tx, statusParts, now);
      const ghosts = options.reconcile ? await this.sockets.deleteGhosts(tx, instanceId, rows, users, this.ended('disconnect', now)) : 0;
      return { ...(await this.transitions(tx, [...users], now, options.deferOffline, ended)), ghosts };
    }));
  }

  /** Recomputes the status of `users` from the table (after a grace period, or to repair a status row). */
  recompute(users: string[], now: Date): Promise<Transitions> {
    if (users.length === 0) return Promise.resolve(NO_TRANSITIONS);
    return this.transaction((tx) => this.transitions(tx, users, now, false));
  }

  // ---------------------------------------------------------------- instances (leases, cold start, reaping)

  /**
   * Renews this instance's lease and refreshes SCP_updated of all its rows: two statements while it has fewer
   * than REFRESH_PART rows (as `expectedRows`, the rows after its last flush, says), else two per REFRESH_PART rows,
   * each part a turn of its own between the instance's flushes (see `ownRows`); the lease row is no flush's, so it
   * is renewed at once. While the instance flushes (a write within the last REFRESH_BUSY_MS), parts are of
   * REFRESH_PART_BUSY rows, so that a flush waits for a short statement at most. Returns how many socket rows
   * were refreshed, so that rows lost behind the instance's back (collected during a long pause) can be noticed;
   * undefined when flushes wrote between the parts, as the count then matches no moment of the table.
   */
  async heartbeat(instance: InstanceInfo, now: Date, expectedRows?: number): Promise<number | undefined> {
    await this.writeOutside((tx) => this.instances.renew(tx, instance, now));
    const writes = this.writes;
    let refreshed = 0;
    let after: SqlNumber | null = null;
    do {
      const from: SqlNumber | null = after;
      const done: { refreshed: number; next?: SqlNumber } = await this.ownRows(instance.id, () => {
        // Sized at its turn: flushes may have begun (or ended) during the parts before it.
        const size = Date.now() - this.lastWriteAt < REFRESH_BUSY_MS ? REFRESH_PART_BUSY : REFRESH_PART;
        const part = from === null && expectedRows !== undefined && expectedRows < size ? 'whole' : size;
        return this.writeOutside((tx) => this.sockets.refresh(tx, instance.id, now, from, part));
      });
      refreshed += done.refreshed;
      after = done.next ?? null;
      // A turn of the event loop between parts: SQLite's statements run on it, and parts chained by promises
      // alone ran back to back (200 ms at 16k sockets) before a flush's timer could fire and queue it between them.
      if (after !== null) await new Promise((resolve) => setImmediate(resolve));
    } while (after !== null);
    return this.writes === writes ? refreshed : undefined;
  }

  /**
   * Registers this instance. If no other instance is alive (lease renewed since `cutoff`), this is a cold
   * start: every old row is dropped and every user set offline, once. Two instances starting together cannot
   * both do it: on MySQL a named lock makes the check and the registration one step; SQLite has no named lock,
   * so there the lease is written first, in the transaction that checks and cold-starts, and holds the file's
   * write lock until the commit: an instance of another process on the same file waits for it and then sees
   * this one alive.
   * Users that the last instance to stop left in their offline grace (a status, no session row) are not
   * reset silently: those whose grace ended before `graceCutoff` go offline in the returned `changes`, the
   * others are returned as `deferred` to wait out the rest of it.
   */
  async register(instance: InstanceInfo, cutoff: Date, graceCutoff: Date, now: Date): Promise<Transitions & { coldStart: boolean }> {
    const coldStart = async (tx: Tx): Promise<Transitions> => {
      await this.status.offlineWithSessions(tx, now);
      // The old sessions ended with their instances, which nobody reaped: as of their last refresh.
      await this.history?.recordAll(tx, 'instance-down', 'last-refresh');
      await this.sockets.deleteAll(tx);
      await this.instances.deleteAll(tx);
      await this.members?.deleteAll(tx);
      // Every user still online or idle now is one left in an offline grace (the reset above took the rest).
      const waiting = await this.status.orphans(tx, new Date(now.getTime() + 1));
      const ended = new Set(await this.status.orphans(tx, graceCutoff));
      const decided = await this.transitions(tx, [...ended], now, false);
      return { ...decided, deferred: waiting.filter((userId) => !ended.has(userId)) };
    };
    const registered = (transitions: Transitions | undefined) => ({ coldStart: transitions !== undefined, ...(transitions ?? NO_TRANSITIONS) });
    if (this.isSqlite) {
      const transitions = await this.transaction(async (tx) => {
        await this.instances.renew(tx, instance, now);
        if ((await this.instances.othersAlive(tx, instance.id, cutoff)) > 0) return undefined;
        const done = await coldStart(tx);
        await this.instances.renew(tx, instance, now); // the cold start dropped every lease, this one's too
        return done;
      });
      await this.heartbeat(instance, now);
      return registered(transitions);
    }
    return this.withRunner(async (runner) => {
      const name = `scp-start:${this.sql.tables.sockets}`;
      const lock = runner.query('SELECT GET_LOCK(?, 30) AS got', [name]) as Promise<Array<{ got: number | string | null }>>;
      const [{ got }] = await this.bounded(runner, lock, 'the startup lock', 30_000 + this.config.options.statementTimeoutMs);
      if (Number(got) !== 1) throw new Error(STARTUP_LOCK_TIMEOUT(name));
      try {
        const cold = (await this.direct((tx) => this.instances.othersAlive(tx, instance.id, cutoff))) === 0;
        const transitions = cold ? await this.transaction(coldStart) : undefined;
        await this.heartbeat(instance, now);
        return registered(transitions);
      } finally {
        await this.bounded(runner, runner.query('SELECT RELEASE_LOCK(?)', [name]), 'a statement');
      }
    });
  }

  /** The leases in one read: the GC leader and the instances whose lease expired before `cutoff`. */
  leases(cutoff: Date): Promise<{ leader?: string; dead: string[] }> {
    return this.direct((tx) => this.instances.leases(tx, cutoff));
  }

  /**
   * Removes a dead instance's rows and runs its users' transitions. Whoever deletes the lease row does the
   * rest; a second reaper finds no lease to delete and returns null, so the cleanup is reported once.
   */
  reapInstance(instanceId: string, cutoff: Date, now: Date): Promise<RemovedSockets | null> {
    return this.transaction(async (tx) => {
      if (!(await this.instances.remove(tx, instanceId, cutoff))) return null;
      const removed = await this.sockets.removeOfInstance(tx, instanceId, this.ended('instance-down', 'last-refresh'));
      return this.afterRemoval(tx, removed, now, false);
    });
  }

  /**
   * Graceful shutdown: every row of this instance and its lease, with the status transitions that follow. With
   * `deferOffline` (an offline grace) the users' statuses and channel memberships are held: they may be
   * reconnecting to another instance. Every membership that goes here goes because its socket ended, so all
   * are held; the GC leader's sweep decides them after the grace.
   */
  removeInstance(instanceId: string, now: Date, deferOffline: boolean): Promise<RemovedSockets> {
    return this.ownRows(instanceId, () => this.transaction(async (tx) => {
      await this.instances.remove(tx, instanceId);
      const removed = await this.sockets.removeOfInstance(tx, instanceId, this.ended('shutdown', now));
      return this.afterRemoval(tx, removed, now, deferOffline, deferOffline ? () => true : undefined);
    }));
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
    const stale = await this.direct((tx) => this.sockets.anyStale(tx, cutoff));
    const removed: RemovedSockets = !stale ? { sockets: [], ...NO_TRANSITIONS } : await this.transaction(async (tx) => {
      const stale = await this.sockets.removeStale(tx, cutoff, this.ended('cleanup', 'last-refresh'));
      const found = await this.afterRemoval(tx, stale, now, false);
      // Channel rows left without their presence row; presence rows go only through the locked select above.
      rows = found.sockets.length + (await this.sockets.deleteStaleChannels(tx, cutoff));
      return found;
    });
    const orphans = await this.direct((tx) => this.status.orphans(tx, statusCutoff));
    // Memberships held by a reconnect grace whose instance stopped or died before deciding them.
    const members = this.members;
    const held = members ? await this.direct((tx) => members.heldTooLong(tx, statusCutoff, HELD_SWEEP_LIMIT)) : [];
    const repaired = await this.recompute([...new Set([...orphans, ...held])], now);
    return { ...removed, rows, changes: [...removed.changes, ...repaired.changes], channels: [...removed.channels, ...repaired.channels] };
  }

  /**
   * Prunes the side tables: status rows of users offline and unseen since `cutoff`, and counters of empty
   * channels with no diff since then. One bounded statement per table, each on an index; what is left over
   * goes at the next run.
   */
  async prune(cutoff: Date, limit: number): Promise<{ statuses: number; channels: number }> {
    const statuses = await this.writeOutside((tx) => this.status.prune(tx, cutoff, limit));
    const members = this.members;
    const channels = members ? await this.writeOutside((tx) => members.pruneChannels(tx, cutoff, limit)) : 0;
    return { statuses, channels };
  }

  /**
   * Deletes history rows of sessions that ended before `cutoff`, `limit` at a time, at most `batches` statements:
   * each is short, so a large backlog never holds locks for long, and what is left goes at the next run.
   */
  async pruneHistory(cutoff: Date, limit: number, batches: number): Promise<number> {
    const history = this.history;
    if (!history) return 0;
    let pruned = 0;
    for (let i = 0; i < batches; i++) {
      const deleted = await this.writeOutside((tx) => history.prune(tx, cutoff, limit));
      pruned += deleted;
      if (deleted < limit) break;
    }
    return pruned;
  }

  // ---------------------------------------------------------------- reads

  /** Whether ended sessions are recorded (option `history`). */
  get recordsHistory(): boolean {
    return this.history !== undefined;
  }

  /** A user's ended sessions, newest first (empty with `history` off). */
  sessionHistory(userId: string, since: Date | undefined, limit: number): Promise<SessionHistoryEntry[]> {
    const history = this.history;
    if (!history) return Promise.resolve([]);
    return this.direct((tx) => history.ofUser(tx, userId, since, limit));
  }

  /** When each of `userIds` last ended a session, from the history (empty with `history` off). */
  lastSessionEnds(userIds: string[]): Promise<Map<string, Date>> {
    const history = this.history;
    if (!history || userIds.length === 0) return Promise.resolve(new Map());
    return this.direct((tx) => history.lastEnded(tx, userIds));
  }

  channelSnapshot(channel: string): Promise<{ seq: number; members: Member[] }> {
    if (!this.members) return Promise.resolve({ seq: 0, members: [] });
    const members = this.members;
    return this.direct((tx) => members.snapshot(tx, channel));
  }

  /** The stored status of each user who has a row (the others are offline, never seen). */
  statuses(userIds: string[]): Promise<Map<string, UserStatusRow>> {
    return this.direct((tx) => this.status.read(tx, userIds));
  }

  /** USERS / SOCKETS / SUBSCRIPTIONS over the whole cluster, or within one channel. */
  count(type: UsercountType, channel?: string): Promise<number> {
    return this.direct((tx) => this.sockets.count(tx, type, channel));
  }

  sessionsOfUsers(userIds: string[]): Promise<PresenceSession[]> {
    return this.direct((tx) => this.sockets.sessionsOfUsers(tx, userIds));
  }

  sessionsInChannel(channel: string): Promise<PresenceSession[]> {
    return this.direct((tx) => this.sockets.sessionsInChannel(tx, channel));
  }

  // ---------------------------------------------------------------- composed steps, inside a transaction

  /** With `history` on: what records the sessions of sockets whose rows a removal is about to delete. */
  private ended(reason: HistoryReason, at: EndedAt): RecordEnded | undefined {
    const history = this.history;
    return history ? (tx, socketIds) => history.record(tx, socketIds, reason, at) : undefined;
  }

  /** The transitions of the users whose sockets were just removed. */
  private async afterRemoval(tx: Tx, sockets: RemovedSocket[], now: Date, deferOffline: boolean, ended?: EndedMembership): Promise<RemovedSockets> {
    const users = [...new Set(sockets.flatMap((s) => (s.userId === null ? [] : [s.userId])))];
    return { sockets, ...(await this.transitions(tx, users, now, deferOffline, ended)) };
  }

  /**
   * Status transitions, then (after every status lock) the channel presence diffs of the same users. With an
   * offline grace, memberships are held as well (`ended`: those whose last socket just closed); users whose hold
   * begins are deferred like those whose offline waits, so that they are decided again after the grace.
   */
  private async transitions(tx: Tx, users: string[], now: Date, deferOffline: boolean, ended?: EndedMembership): Promise<Transitions> {
    const decided = await this.status.transitions(tx, users, now, deferOffline);
    if (!this.members) return { ...decided, channels: [] };
    const graceMs = this.config.options.offlineGraceMs;
    const { diffs, holds } = await this.members.memberships(tx, users, now, graceMs > 0 ? { now, graceMs, ended } : undefined);
    const waiting = new Set(decided.deferred);
    const holding = [...new Set(holds.map((m) => m.userId))].filter((userId) => !waiting.has(userId));
    return { ...decided, deferred: [...decided.deferred, ...holding], channels: diffs };
  }

  // ---------------------------------------------------------------- connection and transactions

  /** A runner for `fn`; a connection that timed out or broke is destroyed instead of going back to the pool. */
  private async withRunner<T>(fn: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.connection.createQueryRunner();
    try {
      return await fn(runner);
    } catch (error) {
      if (this.isSqlite || !isDeadConnection(error)) throw error;
      evict(runner);
      // The driver's own words (`connect ETIMEDOUT`) say neither that the module is behind it nor what follows.
      if (error instanceof PresenceError) throw error;
      throw new PresenceDatabaseError(DATABASE_CONNECTION_FAILED(driverErrorCode(error)!, (error as Error).message), { cause: error });
    } finally {
      await runner.release();
    }
  }

  /** `work` on `runner` within `ms` (a statement's bound by default); on SQLite, which has no network, as it is. */
  private bounded<T>(runner: QueryRunner, work: Promise<T>, what: string, ms = this.config.options.statementTimeoutMs): Promise<T> {
    return this.isSqlite ? work : within(runner, work, ms, what);
  }

  /** The statements of `runner`, each bounded. */
  private statementsOf(runner: QueryRunner): Tx {
    return {
      exec: async (sql, params) => (await this.bounded(runner, runner.query(sql, params, true), 'a statement')).affected ?? 0,
      rows: (sql, params) => this.bounded(runner, runner.query(sql, params) as Promise<never[]>, 'a statement'),
    };
  }

  /** Statements outside a transaction: reads, and writes that are one statement. */
  private readonly direct = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> =>
    fn({
      exec: (sql, params) => this.withRunner((runner) => this.statementsOf(runner).exec(sql, params)),
      rows: (sql, params) => this.withRunner((runner) => this.statementsOf(runner).rows(sql, params)),
    });

  /**
   * A write of one statement outside a transaction. It can still deadlock with another instance's transaction
   * (a flush's status upsert against a prune's DELETE, GC's deletes against a heartbeat's UPDATE): the victim is
   * retried like a transaction, at once, instead of failing the whole task until its next run.
   */
  private readonly writeOutside = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => this.retrying(() => this.direct(fn));

  /**
   * `work` on `instanceId`'s own socket rows, after every earlier such work of that instance has ended. Its
   * flushes find rows by socket id (that key and the primary key first, then the instance index) and its
   * heartbeat through the instance index (that index first, then the primary key): run side by side, the two deadlock on the
   * first row they share, and the heartbeat's retries run into the same flush again.
   */
  private ownRows<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    let queue = this.ownRowQueues.get(instanceId);
    if (!queue) this.ownRowQueues.set(instanceId, (queue = new SerialQueue()));
    const done = queue.run(work);
    const forget = () => {
      if (queue.idle && this.ownRowQueues.get(instanceId) === queue) this.ownRowQueues.delete(instanceId);
    };
    done.then(forget, forget);
    return done;
  }

  /** Runs `work` again after a deadlock or a lock wait timeout, up to `attempts` times in all. */
  private async retrying<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = driverErrorCode(error);
      if (attempts > 1 && code && RETRYABLE.has(code)) return this.retrying(work, attempts - 1);
      throw error;
    }
  }

  /**
   * READ COMMITTED for MySQL transactions. On the module's own pool each connection is switched once for its
   * session, which saves a statement per transaction, and gets the server-side bounds (`serverBounds`); a
   * shared DataSource is left as the app set it, and each transaction names its level.
   */
  private async isolation(runner: QueryRunner): Promise<'READ COMMITTED' | undefined> {
    if (this.isSqlite) return undefined;
    if (!this.ownsDataSource) return 'READ COMMITTED';
    await this.bounded(runner, runner.connect(), 'a connection attempt');
    const connection = (runner as unknown as { databaseConnection?: object }).databaseConnection;
    if (!connection) return 'READ COMMITTED';
    if (!this.readCommitted.has(connection)) {
      await this.bounded(runner, runner.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'), 'a statement');
      await this.serverBounds(runner);
      this.readCommitted.add(connection);
    }
    return undefined;
  }

  /**
   * The client's bounds end its side only: after a silent partition the server still holds the transaction
   * and its row locks, and every instance's writes of those users wait behind it. So the server gives up too:
   * a lock wait ends just before the statement bound (with an error that is retried on the same connection),
   * and on MariaDB a transaction left idle for longer than the transaction bound is rolled back and its
   * connection closed (`idle_transaction_timeout`; MySQL has no such setting, see the README).
   */
  private async serverBounds(runner: QueryRunner): Promise<void> {
    const { statementTimeoutMs, transactionTimeoutMs } = this.config.options;
    const lockWait = `innodb_lock_wait_timeout = ${Math.max(1, Math.floor((statementTimeoutMs - 1) / 1000))}`;
    const idle = `idle_transaction_timeout = ${Math.max(1, Math.ceil(transactionTimeoutMs / 1000))}`;
    const set = (settings: string[]) => this.bounded(runner, runner.query(`SET SESSION ${settings.join(', ')}`), 'a statement');
    if (this.idleTransactionTimeout) {
      try {
        await set([lockWait, idle]);
        return;
      } catch (error) {
        if (driverErrorCode(error) !== 'ER_UNKNOWN_SYSTEM_VARIABLE') throw error;
        this.idleTransactionTimeout = false;
      }
    }
    await set([lockWait]);
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED on MySQL, so reads after a lock see what others committed);
   * a deadlock runs it again. On SQLite, transactions of this process are queued one after another. On MySQL
   * each statement is bounded by `statementTimeoutMs` and the whole by `transactionTimeoutMs`: past either,
   * the connection is destroyed, which also ends the transaction on the server once it notices.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>, attempts = 3): Promise<T> {
    const body = async (runner: QueryRunner) => {
      const isolation = await this.isolation(runner);
      await this.bounded(runner, runner.startTransaction(isolation), 'the start of a transaction');
      try {
        const result = await fn(this.statementsOf(runner));
        await this.bounded(runner, runner.commitTransaction(), 'a commit');
        return result;
      } catch (error) {
        // A dead connection cannot roll back; destroying it (withRunner) does.
        if (runner.isTransactionActive && !isDeadConnection(error)) {
          await this.bounded(runner, runner.rollbackTransaction(), 'a rollback').catch(() => undefined);
        }
        throw error;
      }
    };
    const work = () =>
      this.withRunner((runner) => this.bounded(runner, body(runner), 'a transaction', this.config.options.transactionTimeoutMs));
    if (!this.isSqlite) return this.retrying(work, attempts);
    return this.sqliteQueue.run(work);
  }
}
