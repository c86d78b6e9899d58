import type { HistoryReason, SessionHistoryEntry } from '../presence.types.js';
import { fromSqlTime, toSqlTime } from './sql.dialect.js';
import { PREFIX_CHUNK, chunks, inList, type SqlContext, type Tx } from './sql.helpers.js';

const COLUMNS = 'SCP_socket_id, SCP_user_id, SCP_connected, SCP_disconnected, SCP_reason, SCP_instance_id';

/**
 * When an ended session is recorded as over: at a given time (the socket closed, the instance stopped), or at
 * its row's last refresh (its instance died, or no instance owned it): the last moment it was known alive,
 * not the moment someone noticed, which can be minutes or, after a cold start, days later.
 */
export type EndedAt = Date | 'last-refresh';

/**
 * Records the sessions of sockets whose rows are about to be deleted. The store hands one to the sockets table's
 * removals, so that every way rows go writes the history in the same transaction, just before.
 */
export type RecordEnded = (tx: Tx, socketIds: string[]) => Promise<void>;

/** The session history: one row per ended session, copied from its presence row just before that is deleted. */
export class HistoryTable {
  constructor(private readonly sql: SqlContext) {}

  private get table(): string {
    return this.sql.t('history');
  }

  /** What `ended` means in SQL: a parameter, or the presence row's own column. */
  private endedAt(ended: EndedAt): { column: string; params: unknown[] } {
    return ended === 'last-refresh' ? { column: 'SCP_updated', params: [] } : { column: '?', params: [toSqlTime(ended)] };
  }

  /**
   * Copies the presence rows of `socketIds` into the history: one INSERT … SELECT per 500 sockets, whatever
   * the number of sessions. Must run before the rows are deleted, in the same transaction.
   */
  async record(tx: Tx, socketIds: readonly string[], reason: HistoryReason, ended: EndedAt): Promise<void> {
    const at = this.endedAt(ended);
    for (const part of chunks([...socketIds])) {
      await tx.exec(
        `INSERT INTO ${this.table} (${COLUMNS}) SELECT SCP_socket_id, SCP_user_id, SCP_connected, ${at.column}, ?, SCP_instance_id
         FROM ${this.sql.t('sockets')} WHERE SCP_channel = ? AND SCP_socket_id IN ${inList(part)}`,
        [...at.params, reason, this.sql.presenceChannel, ...part],
      );
    }
  }

  /** Copies every presence row (a cold start, just before they all go). One statement. */
  recordAll(tx: Tx, reason: HistoryReason, ended: EndedAt): Promise<number> {
    const at = this.endedAt(ended);
    return tx.exec(
      `INSERT INTO ${this.table} (${COLUMNS}) SELECT SCP_socket_id, SCP_user_id, SCP_connected, ${at.column}, ?, SCP_instance_id
       FROM ${this.sql.t('sockets')} WHERE SCP_channel = ?`,
      [...at.params, reason, this.sql.presenceChannel],
    );
  }

  /** A user's sessions that ended at or after `since`, newest first, at most `limit`: a range of the (user, ended) index. */
  async ofUser(tx: Tx, userId: string, since: Date | undefined, limit: number): Promise<SessionHistoryEntry[]> {
    const { timeText } = this.sql.dialect;
    const rows = await tx.rows<{
      SCP_socket_id: string; SCP_user_id: string | null; connected: string | Date; disconnected: string | Date; SCP_reason: string;
      SCP_instance_id: string;
    }>(
      `SELECT SCP_socket_id, SCP_user_id, ${timeText('SCP_connected')} AS connected, ${timeText('SCP_disconnected')} AS disconnected,
        SCP_reason, SCP_instance_id
       FROM ${this.table} WHERE SCP_user_id = ?${since ? ' AND SCP_disconnected >= ?' : ''}
       ORDER BY SCP_disconnected DESC, SCP_id DESC LIMIT ${Math.trunc(limit)}`,
      since ? [userId, toSqlTime(since)] : [userId],
    );
    return rows.map((row) => ({
      socketId: row.SCP_socket_id,
      userId: row.SCP_user_id,
      connectedAt: fromSqlTime(row.connected),
      disconnectedAt: fromSqlTime(row.disconnected),
      reason: row.SCP_reason as HistoryReason,
      instanceId: row.SCP_instance_id,
    }));
  }

  /** When each of `userIds` last ended a session, for those in the history. */
  async lastEnded(tx: Tx, userIds: readonly string[]): Promise<Map<string, Date>> {
    const out = new Map<string, Date>();
    for (const users of chunks([...new Set(userIds)], PREFIX_CHUNK)) {
      const rows = await tx.rows<{ SCP_user_id: string; ended: string | Date }>(
        `SELECT SCP_user_id, ${this.sql.dialect.timeText('MAX(SCP_disconnected)')} AS ended
         FROM ${this.table} WHERE SCP_user_id IN ${inList(users)} GROUP BY SCP_user_id`,
        users,
      );
      for (const row of rows) out.set(row.SCP_user_id, fromSqlTime(row.ended));
    }
    return out;
  }

  /** Rows of sessions that ended before `cutoff`, at most `limit`: one bounded statement on the (ended) index. */
  prune(tx: Tx, cutoff: Date, limit: number): Promise<number> {
    return tx.exec(this.sql.dialect.deleteSome(this.sql.tables.history, 'SCP_disconnected < ?', limit), [toSqlTime(cutoff)]);
  }
}
