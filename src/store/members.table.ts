import type { ChannelDiff, Member, SessionStatus } from '../presence.types.js';
import { aggregateMembers, diffMembers, memberOf, NO_STATES, type ChannelSessionRow, type MemberHold, type MemberRow } from '../state/members.diff.js';
import { fromSqlTime, toSqlTime } from './sql.dialect.js';
import { PREFIX_CHUNK, chunks, inList, pairList, type SqlContext, type SqlNumber, type Tx } from './sql.helpers.js';
import type { SocketsTable } from './sockets.table.js';

const MEMBER_COLUMNS = ['SCP_channel', 'SCP_user_id', 'SCP_status', 'SCP_states', 'SCP_held'] as const;
/** No states are stored as NULL: rows written before session state existed read the same as rows without any. */
const statesColumn = (states: string) => (states === NO_STATES ? null : states);

/** Channel presence: the members of each channel as last published, and each channel's diff counter. */
export class MembersTable {
  constructor(
    private readonly sql: SqlContext,
    private readonly sockets: SocketsTable,
    private readonly watched: (channel: string) => boolean,
  ) {}

  /**
   * Under the users' status-row locks (so no other instance changes these users meanwhile): aggregate each
   * user's sockets per channel (status and session states), compare with the members as last published, write the difference and number
   * each changed channel's diff. Channel rows are locked last, in key order, by everyone. With a `hold` (the
   * reconnect grace), memberships whose last socket closed are stamped as held instead of leaving; the holds
   * that begin are returned, to be decided again after the grace.
   */
  async memberships(
    tx: Tx,
    userIds: string[],
    now: Date,
    hold?: MemberHold,
  ): Promise<{ diffs: ChannelDiff[]; holds: Array<{ channel: string; userId: string }> }> {
    const at = toSqlTime(now);
    const users = [...new Set(userIds)].sort();
    if (users.length === 0) return { diffs: [], holds: [] };
    const sockets: ChannelSessionRow[] = [];
    const before: MemberRow[] = [];
    for (const part of chunks(users, PREFIX_CHUNK)) {
      for (const row of await this.sockets.channelSessions(tx, part)) {
        if (!this.watched(row.SCP_channel)) continue;
        sockets.push({ channel: row.SCP_channel, userId: row.SCP_user_id, status: row.SCP_status, state: row.SCP_state });
      }
      const published = await tx.rows<{
        SCP_channel: string; SCP_user_id: string; SCP_status: SessionStatus; SCP_states: string | null; held: string | Date | null;
      }>(
        `SELECT SCP_channel, SCP_user_id, SCP_status, SCP_states, ${this.sql.dialect.timeText('SCP_held')} AS held
         FROM ${this.sql.t('members')} WHERE SCP_user_id IN ${inList(part)}`,
        part,
      );
      for (const row of published) {
        before.push({
          channel: row.SCP_channel, userId: row.SCP_user_id, status: row.SCP_status, states: row.SCP_states ?? NO_STATES,
          heldSince: row.held ? fromSqlTime(row.held) : null,
        });
      }
    }
    const { diffs, upserts, deletes, holds } = diffMembers(before, aggregateMembers(sockets), hold);
    // Written as a member again, a membership is no longer held.
    for (const part of chunks(upserts)) {
      await tx.exec(
        this.sql.dialect.upsert(this.sql.tables.members, MEMBER_COLUMNS, part.length, ['SCP_channel', 'SCP_user_id'], ['SCP_status', 'SCP_states', 'SCP_held']),
        part.flatMap((m) => [m.channel, m.userId, m.status, statesColumn(m.states), null]),
      );
    }
    for (const part of chunks(holds)) {
      await tx.exec(
        `UPDATE ${this.sql.t('members')} SET SCP_held = ? WHERE ${pairList('SCP_channel', 'SCP_user_id', part.length)}`,
        [at, ...part.flatMap((m) => [m.channel, m.userId])],
      );
    }
    for (const part of chunks(deletes)) {
      await tx.exec(
        `DELETE FROM ${this.sql.t('members')} WHERE ${pairList('SCP_channel', 'SCP_user_id', part.length)}`,
        part.flatMap((m) => [m.channel, m.userId]),
      );
    }
    if (diffs.length === 0) return { diffs, holds };
    const byChannel = new Map(diffs.map((diff) => [diff.channel, diff]));
    for (const part of chunks(diffs.map((diff) => diff.channel))) {
      await tx.exec(
        this.sql.dialect.upsertCounter(this.sql.tables.channels, 'SCP_channel', 'SCP_seq', part.length, 'SCP_changed'),
        part.flatMap((channel) => [channel, at]),
      );
      const seqs = await tx.rows<{ SCP_channel: string; SCP_seq: SqlNumber }>(
        `SELECT SCP_channel, SCP_seq FROM ${this.sql.t('channels')} WHERE SCP_channel IN ${inList(part)}`,
        part,
      );
      for (const row of seqs) byChannel.get(row.SCP_channel)!.seq = Number(row.SCP_seq);
    }
    return { diffs, holds };
  }

  /**
   * Users with a membership held since before `cutoff`: a reconnect grace that nobody decided (its instance
   * stopped or died first). At most `limit`, on the held-time index; the rest go at the next pass.
   */
  async heldTooLong(tx: Tx, cutoff: Date, limit: number): Promise<string[]> {
    const rows = await tx.rows<{ SCP_user_id: string }>(
      `SELECT DISTINCT SCP_user_id FROM ${this.sql.t('members')} WHERE SCP_held < ? LIMIT ${Math.trunc(limit)}`,
      [toSqlTime(cutoff)],
    );
    return rows.map((row) => row.SCP_user_id);
  }

  /** The members of a channel as last published, and the seq of that state, read in one consistent statement. */
  async snapshot(tx: Tx, channel: string): Promise<{ seq: number; members: Member[] }> {
    const channels = this.sql.t('channels');
    const rows = await tx.rows<{ SCP_user_id: string | null; SCP_status: SessionStatus | null; SCP_states: string | null; seq: SqlNumber | null }>(
      `SELECT m.SCP_user_id, m.SCP_status, m.SCP_states, (SELECT SCP_seq FROM ${channels} WHERE SCP_channel = ?) AS seq
       FROM ${this.sql.t('members')} m WHERE m.SCP_channel = ?
       UNION ALL SELECT NULL, NULL, NULL, (SELECT SCP_seq FROM ${channels} WHERE SCP_channel = ?)`,
      [channel, channel, channel],
    );
    const members = rows
      .filter((r) => r.SCP_user_id !== null)
      .map((r) => memberOf({ userId: r.SCP_user_id!, status: r.SCP_status!, states: r.SCP_states ?? NO_STATES }))
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    return { seq: Number(rows[rows.length - 1]?.seq ?? 0), members };
  }

  /**
   * Counters of channels with no member and no diff since `cutoff`: one bounded statement. A channel that comes
   * back starts again at seq 1; after `gc.retentionMs` without a diff nobody holds an older seq of it.
   */
  pruneChannels(tx: Tx, cutoff: Date, limit: number): Promise<number> {
    const channels = this.sql.t('channels');
    return tx.exec(
      this.sql.dialect.deleteSome(
        this.sql.tables.channels,
        `SCP_changed < ? AND NOT EXISTS (SELECT 1 FROM ${this.sql.t('members')} m WHERE m.SCP_channel = ${channels}.SCP_channel)`,
        limit,
      ),
      [toSqlTime(cutoff)],
    );
  }

  deleteAll(tx: Tx): Promise<number> {
    return tx.exec(`DELETE FROM ${this.sql.t('members')}`, []);
  }
}
