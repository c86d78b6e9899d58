import type { StatusChange, UserStatus } from '../presence.types.js';
import { aggregateStatus, decideTransitions } from '../state/status.aggregate.js';
import { fromSqlTime, toSqlTime } from './sql.dialect.js';
import { CHUNK, chunks, inList, type SqlContext, type SqlNumber, type Tx } from './sql.helpers.js';
import type { SessionCount, SocketsTable } from './sockets.table.js';

const STATUS_COLUMNS = ['SCP_user_id', 'SCP_status', 'SCP_changed', 'SCP_last_seen'] as const;

type StoredStatus = { SCP_user_id: string; SCP_status: UserStatus; changed: string | Date };

/**
 * The users' status rows and their sessions, read inside a transaction. `missing`: users without a row yet,
 * included in `current` as offline, whose row the transaction still has to create.
 */
type Reading = { current: StoredStatus[]; sessions: SessionCount[]; missing: string[] };

export interface UserStatusRow {
  status: UserStatus;
  changedAt: Date;
  lastSeen: Date | null;
}

/** One row per user who has been seen: the status hooks fire from changes of this row. */
export class StatusTable {
  constructor(
    private readonly sql: SqlContext,
    private readonly sockets: SocketsTable,
  ) {}

  private get table(): string {
    return this.sql.t('status');
  }

  /**
   * Inside a transaction: read the users' status rows (a missing one reads as offline and is created) under
   * their row locks on MySQL, aggregate their sessions in one grouped query, write the statuses that changed. Whoever commits a change is the only one to
   * see it as a change, so hooks fire once in the whole cluster. With `deferOffline`, a user left without
   * sessions keeps its status (only SCP_last_seen moves) and is returned in `deferred`.
   */
  async transitions(tx: Tx, userIds: string[], now: Date, deferOffline: boolean): Promise<{ changes: StatusChange[]; deferred: string[] }> {
    const result = { changes: [] as StatusChange[], deferred: [] as string[] };
    const at = toSqlTime(now);
    // The status rows by primary key, CHUNK users at a time; their sessions are counted in one statement too
    // (see sessionCountsQuery).
    for (const users of chunks([...new Set(userIds)].sort(), CHUNK)) {
      const { current, sessions, missing } = this.sql.dialect.kind === 'sqlite' ? await this.readTogether(tx, users, at) : await this.lockThenCount(tx, users, at);
      const live = new Map(sessions.map((s) => [s.SCP_user_id, aggregateStatus(Number(s.online), Number(s.n))] as const));
      const decision = decideTransitions(current.map((row) => ({ userId: row.SCP_user_id, status: row.SCP_status })), live, deferOffline);
      const changedAt = new Map(current.map((row) => [row.SCP_user_id, row]));
      const decided = new Set([...decision.deferred, ...decision.changes.map((c) => c.userId)]);
      const writes: unknown[][] = [
        // Deferred: status and change time stay as they are; only SCP_last_seen moves, which starts the grace.
        ...decision.deferred.map((u) => { const row = changedAt.get(u)!; return [u, row.SCP_status, toSqlTime(fromSqlTime(row.changed)), at]; }),
        ...decision.changes.map((c) => [c.userId, c.to, at, at]),
        // Users seen for the first time whose row was not created yet (SQLite) and that stay offline: created here.
        ...missing.filter((u) => !decided.has(u)).map((u) => [u, 'offline', at, at]),
      ];
      for (const part of chunks(writes)) {
        await tx.exec(this.sql.dialect.upsert(this.sql.tables.status, STATUS_COLUMNS, part.length, ['SCP_user_id'], STATUS_COLUMNS.slice(1)), part.flat());
      }
      result.changes.push(...decision.changes);
      result.deferred.push(...decision.deferred);
    }
    return result;
  }

  /**
   * MySQL: the status rows are locked (created first where missing, so that there is a row to lock), and only
   * then are the sessions counted, so that the count sees what other instances committed before the lock.
   */
  private async lockThenCount(tx: Tx, users: string[], at: string): Promise<Reading> {
    const current = await this.lockOrCreate(tx, users, at);
    return { current, sessions: await this.sockets.sessionCounts(tx, users), missing: [] };
  }

  /**
   * SQLite has no row locks and needs none: its transactions are serialisable. Those of this process are queued
   * (see the store); one of another process on the same file cannot commit between this read and this write
   * (the flush has written the socket rows already, which holds the file's write lock; otherwise the write fails
   * as busy instead of overwriting a newer status). So the status rows and the session counts are read in one
   * statement, and a missing row is not inserted ahead: it reads as offline and the status upsert creates it.
   */
  private async readTogether(tx: Tx, users: string[], at: string): Promise<Reading> {
    const counts = this.sockets.sessionCountsQuery(users);
    const rows = await tx.rows<{ kind: 'status' | 'sessions'; SCP_user_id: string; SCP_status: UserStatus; changed: string; online: SqlNumber; n: SqlNumber }>(
      `SELECT 'status' AS kind, SCP_user_id, SCP_status, SCP_changed AS changed, NULL AS online, NULL AS n FROM ${this.table}
       WHERE SCP_user_id IN ${inList(users)}
       UNION ALL SELECT 'sessions' AS kind, SCP_user_id, NULL, NULL, online, n FROM (${counts.sql})`,
      [...users, ...counts.params],
    );
    const current: StoredStatus[] = [];
    const sessions: SessionCount[] = [];
    for (const row of rows) {
      if (row.kind === 'status') current.push({ SCP_user_id: row.SCP_user_id, SCP_status: row.SCP_status, changed: row.changed });
      else sessions.push({ SCP_user_id: row.SCP_user_id, online: row.online, n: row.n });
    }
    const known = new Set(current.map((row) => row.SCP_user_id));
    const missing = users.filter((u) => !known.has(u));
    current.push(...missing.map((u) => ({ SCP_user_id: u, SCP_status: 'offline' as const, changed: at })));
    return { current, sessions, missing };
  }

  /**
   * Locks the existing rows first, in key order: an INSERT IGNORE on rows that exist would take shared locks
   * that two instances then both try to upgrade (a deadlock). Only users seen for the first time are inserted.
   */
  private async lockOrCreate(tx: Tx, users: string[], at: string): Promise<StoredStatus[]> {
    const lock = (ids: string[]) =>
      tx.rows<StoredStatus>(
        `SELECT SCP_user_id, SCP_status, ${this.sql.dialect.timeText('SCP_changed')} AS changed FROM ${this.table}
         WHERE SCP_user_id IN ${inList(ids)} ORDER BY SCP_user_id${this.sql.dialect.forUpdate}`,
        ids,
      );
    const current = await lock(users);
    const known = new Set(current.map((row) => row.SCP_user_id));
    const missing = users.filter((u) => !known.has(u));
    if (missing.length === 0) return current;
    const inserted = await tx.exec(
      `${this.sql.dialect.insertIgnore} INTO ${this.table} (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ` +
        missing.map(() => `(?, 'offline', ?, ?)`).join(', '),
      missing.flatMap((u) => [u, at, at]),
    );
    // Rows this transaction inserted are locked by it and offline; only if another instance inserted some
    // of them first must they be read (and locked) again.
    if (inserted === missing.length) current.push(...missing.map((u) => ({ SCP_user_id: u, SCP_status: 'offline' as const, changed: at })));
    else current.push(...(await lock(missing)));
    return current;
  }

  /**
   * Cold start, before the old rows go: every user who still has a session row of a dead instance is set
   * offline without events (the cleanup event says it). Users without one are left alone: a stopped instance
   * left them in their offline grace, and they are owed an offline hook (see `orphans`).
   */
  offlineWithSessions(tx: Tx, now: Date): Promise<number> {
    const at = toSqlTime(now);
    return tx.exec(
      `UPDATE ${this.table} SET SCP_status = 'offline', SCP_changed = ?, SCP_last_seen = ? WHERE SCP_status <> 'offline'
       AND SCP_user_id IN (SELECT SCP_user_id FROM ${this.sql.t('sockets')} WHERE SCP_channel = ?)`,
      [at, at, this.sql.presenceChannel],
    );
  }

  /** Users whose row says online or idle with no session left and no change since `cutoff`. */
  async orphans(tx: Tx, cutoff: Date): Promise<string[]> {
    const rows = await tx.rows<{ SCP_user_id: string }>(
      // IN rather than <>: two ranges of the (status, last seen) index, not a scan of every offline user kept.
      `SELECT s.SCP_user_id FROM ${this.table} s WHERE s.SCP_status IN ('online', 'idle') AND s.SCP_last_seen < ?
       AND NOT EXISTS (SELECT 1 FROM ${this.sql.t('sockets')} t WHERE t.SCP_channel = ? AND t.SCP_user_id = s.SCP_user_id)`,
      [toSqlTime(cutoff), this.sql.presenceChannel],
    );
    return rows.map((row) => row.SCP_user_id);
  }

  /**
   * Status rows of users offline and not seen since `cutoff`, at most `limit` of them. A user without a row
   * reads as offline and never seen, so only the last-seen time is forgotten.
   */
  prune(tx: Tx, cutoff: Date, limit: number): Promise<number> {
    return tx.exec(this.sql.dialect.deleteSome(this.sql.tables.status, `SCP_status = 'offline' AND SCP_last_seen < ?`, limit), [toSqlTime(cutoff)]);
  }

  /** The stored status of each user who has a row. */
  async read(tx: Tx, userIds: string[]): Promise<Map<string, UserStatusRow>> {
    const out = new Map<string, UserStatusRow>();
    const { timeText } = this.sql.dialect;
    for (const users of chunks([...new Set(userIds)])) {
      const rows = await tx.rows<{ SCP_user_id: string; SCP_status: UserStatus; changed: string | Date; seen: string | Date | null }>(
        `SELECT SCP_user_id, SCP_status, ${timeText('SCP_changed')} AS changed, ${timeText('SCP_last_seen')} AS seen
         FROM ${this.table} WHERE SCP_user_id IN ${inList(users)}`,
        users,
      );
      for (const row of rows) {
        out.set(row.SCP_user_id, { status: row.SCP_status, changedAt: fromSqlTime(row.changed), lastSeen: row.seen ? fromSqlTime(row.seen) : null });
      }
    }
    return out;
  }
}
