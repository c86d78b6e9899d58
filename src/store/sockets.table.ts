import type { PresenceSession, SessionStatus, SocketRow, UsercountType, WriteBatch } from '../presence.types.js';
import { decodeSessionState } from '../state/session-state.encode.js';
import { fromSqlTime, toSqlTime } from './sql.dialect.js';
import { CHUNK, PREFIX_CHUNK, chunks, inList, pairList, shape, type SqlContext, type SqlNumber, type Tx } from './sql.helpers.js';
import type { RecordEnded } from './history.table.js';

const ROW_COLUMNS = [
  'SCP_socket_id', 'SCP_user_id', 'SCP_channel', 'SCP_updated', 'SCP_authToken', 'SCP_ip', 'SCP_origin',
  'SCP_instance_id', 'SCP_status', 'SCP_connected', 'SCP_state',
] as const;
const ROW_KEY = ['SCP_socket_id', 'SCP_channel'] as const;
const ROW_UPDATE = ['SCP_user_id', 'SCP_updated', 'SCP_authToken', 'SCP_ip', 'SCP_origin', 'SCP_instance_id', 'SCP_status', 'SCP_state'] as const;
/** The params of a row that is padding (see `shape` in sql.helpers): its NULL socket id makes the upsert skip it. */
const PADDING_ROW: readonly null[] = ROW_COLUMNS.map(() => null);

/** A batch's rows as upsert params (see `rowsOf`); `count` rows in all, padding not counted. */
export interface SocketRows {
  count: number;
  parts: unknown[][];
}

/** `items` followed by NULLs up to `length`. */
function padded<T>(items: T[], length: number): Array<T | null> {
  if (items.length >= length) return items;
  const out: Array<T | null> = items.slice();
  while (out.length < length) out.push(null);
  return out;
}

/** A user's sessions: how many are online, and how many there are (MySQL returns the sums as strings). */
export type SessionCount = { SCP_user_id: string; online: SqlNumber; n: SqlNumber };

/**
 * Rows per heartbeat statement. An instance's refresh and its flushes take turns (see `ownRows` in
 * presence.store.ts): one UPDATE of 48,000 rows held the flushes, and the offline hooks behind them, for 100 ms.
 */
export const REFRESH_PART = 20_000;
/**
 * Rows per heartbeat statement while the instance is flushing: each refreshed row also moves in the SCP_updated
 * index, and on a busy 2-core machine a part of 20,000 rows took 250 ms, which a flush (and its hooks) waited out.
 */
export const REFRESH_PART_BUSY = 1000;

/** Sockets that go to one status, few enough for one statement (see `statusParts`). */
export type StatusPart = { status: SessionStatus; socketIds: string[] };

/** Sockets whose rows a statement removed, with their users. */
export type RemovedSocket = { socketId: string; userId: string | null };

/** The sc-presence table: one row per (socket, channel) plus one presence row per socket. */
export class SocketsTable {
  /**
   * @param instanceIndex The name of the index on SCP_instance_id, when the table has it and the server takes
   *   index hints (MySQL/MariaDB). MariaDB plans the heartbeat's UPDATE as a scan of the whole table once an
   *   instance owns a sizeable share of the rows, so its cost would grow with every other instance's rows.
   * @param uniqueIndex The name of the (socket, channel) key, when the table has it (MySQL/MariaDB): a flush's
   *   deletes look their rows up in it one by one (see `deleteByKey`).
   */
  constructor(
    private readonly sql: SqlContext,
    private readonly instanceIndex?: string,
    private readonly uniqueIndex?: string,
  ) {}

  private get table(): string {
    return this.sql.t('sockets');
  }

  /**
   * The rows of a batch, one per (socket, channel), as the params of the upsert statements: one flat list per
   * statement, padded to the dialect's shape. Built straight into those lists, without an array per row.
   */
  rowsOf(batch: WriteBatch, instanceId: string, now: Date): SocketRows {
    const updated = toSqlTime(now);
    const { presenceChannel, dialect } = this.sql;
    const parts: unknown[][] = [];
    let part: unknown[] = [];
    let inPart = 0;
    let count = 0;
    const put = (socket: SocketRow, connected: string, channel: string, authToken: string | null, state: string | null) => {
      if (inPart === CHUNK) {
        parts.push(part);
        part = [];
        inPart = 0;
      }
      part.push(socket.socketId, socket.userId, channel, updated, authToken, socket.ip, socket.origin, instanceId, socket.status, connected, state);
      inPart++;
      count++;
    };
    for (const { socket, presence, channels } of batch.upserts) {
      const connected = toSqlTime(socket.connectedAt);
      // The token's JSON and the session state go on the presence row only: copied into every channel row, one
      // socket with a large token and many subscriptions would store it thousands of times.
      if (presence) put(socket, connected, presenceChannel, socket.authToken, socket.state);
      for (const channel of channels) put(socket, connected, channel, null, null);
    }
    if (inPart > 0) {
      for (let i = inPart, size = shape(dialect, inPart); i < size; i++) part.push(...PADDING_ROW);
      parts.push(part);
    }
    return { count, parts };
  }

  async upsert(tx: Tx, rows: SocketRows): Promise<void> {
    const { dialect, tables } = this.sql;
    for (const part of rows.parts) {
      await tx.exec(dialect.upsertShaped(tables.sockets, ROW_COLUMNS, part.length / ROW_COLUMNS.length, ROW_KEY, ROW_UPDATE), part);
    }
  }

  /**
   * A DELETE of the rows of `count` sockets (`SCP_socket_id` in `columns`) or of `count` single rows (their
   * socket and channel), the params in that order. On MySQL the values are a derived table, read first, and each
   * of its rows is looked up in the unique key: MariaDB's estimate of the table's rows drops by one for every row
   * that an upsert finds already there (status changes rewrite a socket's rows), and it is corrected only when the
   * statistics are recalculated, at most every 10 s. A busy small table is then estimated at 0 rows, and any
   * DELETE with an IN list (or OR'ed pairs), index hint or not, is planned as a scan of the whole table, which
   * locks every instance's rows it passes: the flushes of several instances then wait on each other and deadlock.
   * A lookup per value does not depend on that estimate.
   */
  private deleteByKey(columns: ReadonlyArray<'SCP_socket_id' | 'SCP_channel'>, count: number): string {
    const key = this.byKey(columns, count);
    return key.joined ? `DELETE t FROM ${key.tables}` : `DELETE FROM ${key.tables} WHERE ${key.where}`;
  }

  /**
   * The rows of `count` sockets or single rows (see `deleteByKey`), for a DELETE or an UPDATE: with the unique
   * key's name (MySQL), a derived table of the keys joined to the table (alias t), whose params come first in the
   * statement; otherwise the table and a WHERE on the keys.
   */
  private byKey(columns: ReadonlyArray<'SCP_socket_id' | 'SCP_channel'>, count: number): { joined: boolean; tables: string; where: string } {
    if (!this.uniqueIndex) {
      const where = columns.length === 1 ? `SCP_socket_id IN ${inList(Array(count))}` : pairList('SCP_socket_id', 'SCP_channel', count);
      return { joined: false, tables: this.table, where };
    }
    const first = `SELECT ${columns.map((column) => `? AS ${column}`).join(', ')}`;
    const next = ` UNION ALL SELECT ${columns.map(() => '?').join(', ')}`;
    const on = columns.map((column) => `t.${column} = v.${column}`).join(' AND ');
    const tables = `(${first}${next.repeat(count - 1)}) AS v STRAIGHT_JOIN ${this.table} AS t FORCE INDEX (${this.sql.dialect.id(this.uniqueIndex)}) ON ${on}`;
    return { joined: true, tables, where: '' };
  }

  /** A batch's status changes as the parts `setStatus` writes, one statement each: PREFIX_CHUNK ids of one status. */
  statusParts(changes: ReadonlyArray<{ socketId: string; status: SessionStatus }>): StatusPart[] {
    const parts: StatusPart[] = [];
    for (const status of ['online', 'idle'] as const) {
      const ids = changes.filter((change) => change.status === status).map((change) => change.socketId);
      for (const part of chunks(ids, PREFIX_CHUNK)) parts.push({ status, socketIds: part });
    }
    return parts;
  }

  /**
   * Sets the status (and SCP_updated, as any write of the rows does) of every row of these sockets. Their other
   * columns stay: an upsert of all of them, as a status change was written before, cost MariaDB about three times
   * the CPU for the same rows.
   */
  async setStatus(tx: Tx, parts: readonly StatusPart[], now: Date): Promise<void> {
    const updated = toSqlTime(now);
    for (const { status, socketIds } of parts) {
      const keys = this.shapedList(socketIds);
      const key = this.byKey(['SCP_socket_id'], keys.length);
      await (key.joined
        ? tx.exec(`UPDATE ${key.tables} SET t.SCP_status = ?, t.SCP_updated = ?`, [...keys, status, updated])
        : tx.exec(`UPDATE ${key.tables} SET SCP_status = ?, SCP_updated = ? WHERE ${key.where}`, [status, updated, ...keys]));
    }
  }

  /** An IN list's values padded with NULLs, which it never matches, to the dialect's shape (see `shape`). */
  private shapedList<T>(items: T[]): Array<T | null> {
    return padded(items, shape(this.sql.dialect, items.length));
  }

  /** Every row of these sockets, in parts of PREFIX_CHUNK ids (on SQLite each a range of the unique key). */
  async deleteSockets(tx: Tx, socketIds: string[]): Promise<void> {
    for (const part of chunks(socketIds, PREFIX_CHUNK)) {
      const params = this.shapedList(part);
      await tx.exec(this.deleteByKey(['SCP_socket_id'], params.length), params);
    }
  }

  /**
   * Deletes single (socket, channel) rows; returns how many went. In parts of PREFIX_CHUNK pairs: as an OR of
   * 500 pairs in over 200 rooms, past the index-dive limit and with statistics that lagged, MariaDB read them
   * through the (channel, user) index, that is every instance's rows of those rooms.
   */
  async deleteRows(tx: Tx, keys: Array<{ socketId: string; channel: string }>): Promise<number> {
    let deleted = 0;
    for (const part of chunks(keys, PREFIX_CHUNK)) {
      const size = shape(this.sql.dialect, part.length);
      const params = padded(part.flatMap((r) => [r.socketId, r.channel]), 2 * size);
      deleted += await tx.exec(this.deleteByKey(['SCP_socket_id', 'SCP_channel'], size), params);
    }
    return deleted;
  }

  /**
   * After an outage, with every live row of this instance just written: any other row of it is a ghost.
   * Compared by key, not by time, so a heartbeat that refreshed the ghosts meanwhile cannot save them.
   * Returns the number of rows deleted, and adds the ghosts' users to `users`.
   */
  async deleteGhosts(tx: Tx, instanceId: string, written: SocketRows, users: Set<string>, ended?: RecordEnded): Promise<number> {
    const kept = new Set<string>();
    for (const part of written.parts) {
      for (let i = 0; i < part.length && part[i] !== null; i += ROW_COLUMNS.length) kept.add(`${part[i]}\u0000${part[i + 2]}`);
    }
    const mine = await tx.rows<{ SCP_socket_id: string; SCP_channel: string; SCP_user_id: string | null }>(
      `SELECT SCP_socket_id, SCP_channel, SCP_user_id FROM ${this.table} WHERE SCP_instance_id = ?`,
      [instanceId],
    );
    const stale = mine.filter((row) => !kept.has(`${row.SCP_socket_id}\u0000${row.SCP_channel}`));
    for (const row of stale) if (row.SCP_user_id !== null) users.add(row.SCP_user_id);
    const sessions = stale.filter((row) => row.SCP_channel === this.sql.presenceChannel).map((row) => row.SCP_socket_id);
    if (ended && sessions.length > 0) await ended(tx, sessions);
    return this.deleteRows(tx, stale.map((row) => ({ socketId: row.SCP_socket_id, channel: row.SCP_channel })));
  }

  /** Deletes every row of an instance's sockets, and says which sockets they were. */
  removeOfInstance(tx: Tx, instanceId: string, ended?: RecordEnded): Promise<RemovedSocket[]> {
    return this.removeWhere(tx, 'SCP_instance_id = ?', [instanceId], ended);
  }

  /**
   * Rows not refreshed since `cutoff` of an instance without a current lease. A live instance's rows are never
   * collected by time: a flush that was stamped just before a heartbeat and committed just after it leaves rows
   * a little older than the lease, and collecting those would report its users offline as a cleanup. An
   * instance whose lease expired is reaped first (reason `instance-down`); what is left is rows of no instance.
   */
  private stale(cutoff: Date): { where: string; params: unknown[] } {
    const at = toSqlTime(cutoff);
    return {
      where: `SCP_updated < ? AND SCP_instance_id NOT IN (SELECT SCP_instance_id FROM ${this.sql.t('instances')} WHERE SCP_heartbeat >= ?)`,
      params: [at, at],
    };
  }

  /** Deletes every row of the stale sockets (see `stale`), by their presence row. */
  removeStale(tx: Tx, cutoff: Date, ended?: RecordEnded): Promise<RemovedSocket[]> {
    const { where, params } = this.stale(cutoff);
    return this.removeWhere(tx, where, params, ended);
  }

  /** Deletes every row of the sockets whose presence row matches `where`, and says which sockets they were. */
  private async removeWhere(tx: Tx, where: string, params: unknown[], ended?: RecordEnded): Promise<RemovedSocket[]> {
    const found = await tx.rows<{ SCP_socket_id: string; SCP_user_id: string | null }>(
      // Locked: a heartbeat refreshing these rows meanwhile waits, so what is reported is what is deleted.
      `SELECT SCP_socket_id, SCP_user_id FROM ${this.table} WHERE SCP_channel = ? AND ${where}${this.sql.dialect.forUpdate}`,
      [this.sql.presenceChannel, ...params],
    );
    const sockets = found.map((r) => ({ socketId: r.SCP_socket_id, userId: r.SCP_user_id }));
    if (ended && sockets.length > 0) await ended(tx, sockets.map((s) => s.socketId));
    await this.deleteSockets(tx, sockets.map((s) => s.socketId));
    return sockets;
  }

  /** Stale channel rows (see `stale`) whose presence row is gone already. */
  deleteStaleChannels(tx: Tx, cutoff: Date): Promise<number> {
    const { where, params } = this.stale(cutoff);
    return tx.exec(`DELETE FROM ${this.table} WHERE ${where} AND SCP_channel <> ?`, [...params, this.sql.presenceChannel]);
  }

  async anyStale(tx: Tx, cutoff: Date): Promise<boolean> {
    const { where, params } = this.stale(cutoff);
    const [stale] = await tx.rows(`SELECT 1 AS x FROM ${this.table} WHERE ${where} LIMIT 1`, params);
    return stale !== undefined;
  }

  /**
   * Refreshes the instance's rows after `after` in SCP_id order (all of them with `after` null): up to
   * `part` rows, or all that are left with `whole`. Returns how many, and the SCP_id the next part starts
   * after, if any is left. On the instance index, which holds SCP_id next to the instance id, the part's edge
   * and the part itself are ranges.
   */
  async refresh(tx: Tx, instanceId: string, now: Date, after: SqlNumber | null, part: number | 'whole'): Promise<{ refreshed: number; next?: SqlNumber }> {
    const hint = this.instanceIndex ? ` FORCE INDEX (${this.sql.dialect.id(this.instanceIndex)})` : '';
    const from = after === null ? { sql: '', params: [] } : { sql: ' AND SCP_id > ?', params: [after] };
    const [edge] = part === 'whole'
      ? []
      : await tx.rows<{ id: SqlNumber }>(
        `SELECT SCP_id AS id FROM ${this.table}${hint} WHERE SCP_instance_id = ?${from.sql} ORDER BY SCP_id LIMIT 1 OFFSET ${part - 1}`,
        [instanceId, ...from.params],
      );
    const refreshed = await tx.exec(
      `UPDATE ${this.table}${hint} SET SCP_updated = ? WHERE SCP_instance_id = ?${from.sql}${edge ? ' AND SCP_id <= ?' : ''}`,
      [toSqlTime(now), instanceId, ...from.params, ...(edge ? [edge.id] : [])],
    );
    return { refreshed, next: edge?.id };
  }

  deleteAll(tx: Tx): Promise<number> {
    return tx.exec(`DELETE FROM ${this.table}`, []);
  }

  /** Per user with a session: how many of their sessions are online, and how many there are. */
  sessionCounts(tx: Tx, users: string[]): Promise<SessionCount[]> {
    const { sql, params } = this.sessionCountsQuery(users);
    return tx.rows(sql, params);
  }

  /**
   * The statement of `sessionCounts`, for a caller that reads it together with another in one statement. One
   * statement for any number of users: a SELECT per PREFIX_CHUNK of them on the (channel, user) index, joined by
   * UNION ALL, so that each part's IN list stays short enough for the optimizer to count it in the index.
   */
  sessionCountsQuery(users: string[]): { sql: string; params: unknown[] } {
    const parts = chunks(users, PREFIX_CHUNK).map((part) => {
      const ids = this.shapedList(part);
      return {
        sql: `SELECT SCP_user_id, SUM(CASE WHEN SCP_status = 'online' THEN 1 ELSE 0 END) AS online, COUNT(*) AS n
       FROM ${this.table} WHERE SCP_channel = ? AND SCP_user_id IN ${inList(ids)} GROUP BY SCP_user_id`,
        params: [this.sql.presenceChannel, ...ids],
      };
    });
    return { sql: parts.map((part) => part.sql).join('\n       UNION ALL '), params: parts.flatMap((part) => part.params) };
  }

  /**
   * The channel rows of `users`' sockets, each with its status and its session's state (from the socket's
   * presence row, the only one that holds it): what channel members are aggregated from.
   */
  channelSessions(tx: Tx, users: string[]): Promise<Array<{ SCP_channel: string; SCP_user_id: string; SCP_status: SessionStatus; SCP_state: string | null }>> {
    // From the users' presence rows (the (channel, user) index) to their sockets' channel rows (the unique key):
    // no index starts with the user id, so asking for the channel rows by user id read the whole table. A channel
    // row whose presence row is gone is a stale leftover for GC, not a member.
    const ids = this.shapedList(users);
    return tx.rows(
      `SELECT c.SCP_channel, c.SCP_user_id, c.SCP_status, p.SCP_state
       FROM ${this.table} p JOIN ${this.table} c ON c.SCP_socket_id = p.SCP_socket_id AND c.SCP_channel <> ?
       WHERE p.SCP_channel = ? AND p.SCP_user_id IN ${inList(ids)}`,
      [this.sql.presenceChannel, this.sql.presenceChannel, ...ids],
    );
  }

  /** USERS / SOCKETS / SUBSCRIPTIONS over the whole cluster, or within one channel. */
  async count(tx: Tx, type: UsercountType, channel?: string): Promise<number> {
    if (type === 'subscriptions' && channel === undefined) {
      const [row] = await tx.rows<{ n: SqlNumber }>(`SELECT COUNT(*) AS n FROM ${this.table} WHERE SCP_channel <> ?`, [this.sql.presenceChannel]);
      return Number(row.n);
    }
    const where = channel ?? this.sql.presenceChannel;
    if (type === 'users') {
      // Distinct user ids, plus one per anonymous socket (COUNT(column) skips the NULLs that COUNT(*) counts).
      const [row] = await tx.rows<{ u: SqlNumber; a: SqlNumber }>(
        `SELECT COUNT(DISTINCT SCP_user_id) AS u, COUNT(*) - COUNT(SCP_user_id) AS a FROM ${this.table} WHERE SCP_channel = ?`,
        [where],
      );
      return Number(row.u) + Number(row.a);
    }
    const [row] = await tx.rows<{ n: SqlNumber }>(`SELECT COUNT(*) AS n FROM ${this.table} WHERE SCP_channel = ?`, [where]);
    return Number(row.n);
  }

  async sessionsOfUsers(tx: Tx, userIds: string[]): Promise<PresenceSession[]> {
    let out: PresenceSession[] = [];
    for (const users of chunks([...new Set(userIds)], PREFIX_CHUNK)) {
      // concat, not push(...): a part's rows are as many as its users' sessions, with no bound of their own.
      out = out.concat(await this.sessions(tx, `SCP_channel = ? AND SCP_user_id IN ${inList(users)}`, [this.sql.presenceChannel, ...users]));
    }
    return out;
  }

  sessionsInChannel(tx: Tx, channel: string): Promise<PresenceSession[]> {
    return this.sessions(tx, 'SCP_channel = ?', [channel]);
  }

  /** Sessions (sockets with a presence row) selected by a condition on any of their rows, with all their channels. */
  private async sessions(tx: Tx, condition: string, params: unknown[]): Promise<PresenceSession[]> {
    const { dialect, presenceChannel } = this.sql;
    const rows = await tx.rows<{
      SCP_socket_id: string; SCP_user_id: string | null; SCP_channel: string; SCP_status: SessionStatus;
      SCP_instance_id: string; SCP_ip: string | null; SCP_origin: string | null; connected: string | Date; updated: string | Date;
      SCP_state: string | null;
    }>(
      `SELECT SCP_socket_id, SCP_user_id, SCP_channel, SCP_status, SCP_instance_id, SCP_ip, SCP_origin, SCP_state,
        ${dialect.timeText('SCP_connected')} AS connected, ${dialect.timeText('SCP_updated')} AS updated
       FROM ${this.table} WHERE SCP_socket_id IN (SELECT SCP_socket_id FROM ${this.table} WHERE ${condition})
       ORDER BY SCP_socket_id, SCP_id`,
      params,
    );
    const bySocket = new Map<string, PresenceSession>();
    const channels = new Map<string, string[]>();
    for (const row of rows) {
      if (row.SCP_channel === presenceChannel) {
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
          state: decodeSessionState(row.SCP_state),
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
}
