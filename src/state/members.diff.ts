import type { ChannelDiff, Member, SessionStatus } from '../presence.types.js';
import { sessionsStatus } from './status.aggregate.js';

/** A user's membership of one channel, with the status of their sockets in it and their sessions' states. */
export interface MemberRow {
  channel: string;
  userId: string;
  status: SessionStatus;
  /** The JSON array of the states of the user's sessions in the channel, in text order: `'[]'` for none. */
  states: string;
  /** On a published membership: since when the reconnect grace holds it with no socket behind it; null if it does not. */
  heldSince?: Date | null;
}

/** The reconnect grace (`offlineGraceMs`): a member whose last socket in a channel closed stays one this long. */
export interface MemberHold {
  now: Date;
  graceMs: number;
  /** Whether the user's last socket in the channel closed in this change (an unsubscribe does not start a hold). */
  ended?: (channel: string, userId: string) => boolean;
}

/** One socket of a user in one channel: its status, and its session state's JSON (null for none). */
export interface ChannelSessionRow {
  channel: string;
  userId: string;
  status: SessionStatus;
  state: string | null;
}

export const NO_STATES = '[]';

export interface MembersDiff {
  /** One diff per changed channel, in channel order; `seq` is 0 until the store numbers them. */
  diffs: ChannelDiff[];
  /** Memberships to write (joins, status updates, and members back within the grace: no longer held) and to delete (leaves). */
  upserts: MemberRow[];
  deletes: Array<{ channel: string; userId: string }>;
  /** Holds that begin now: not leaves, the membership stays as published and is decided again after the grace. */
  holds: Array<{ channel: string; userId: string }>;
}

const key = (row: { channel: string; userId: string }) => `${row.channel}\u0000${row.userId}`;

/**
 * The members of channels from their sockets, per (channel, user): online if any socket is, and the states of
 * the sockets that have one. States are sorted by their text (a socket's state is stored with sorted keys), so
 * the same states give the same `states` whichever sockets carry them, and equal sets compare equal.
 */
export function aggregateMembers(sockets: readonly ChannelSessionRow[]): MemberRow[] {
  const members = new Map<string, { channel: string; userId: string; online: number; states: string[] }>();
  for (const socket of sockets) {
    const k = key(socket);
    let member = members.get(k);
    if (!member) members.set(k, (member = { channel: socket.channel, userId: socket.userId, online: 0, states: [] }));
    if (socket.status === 'online') member.online++;
    if (socket.state !== null) member.states.push(socket.state);
  }
  return [...members.values()].map(({ channel, userId, online, states }) => ({
    channel, userId, status: sessionsStatus(online), states: `[${states.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',')}]`,
  }));
}

/** A member as published: the states parsed (a text that is not a JSON array of objects reads as none). */
export function memberOf(row: Pick<MemberRow, 'userId' | 'status' | 'states'>): Member {
  let states: Array<Record<string, unknown>> = [];
  if (row.states !== NO_STATES) {
    try {
      const parsed: unknown = JSON.parse(row.states);
      if (Array.isArray(parsed)) states = parsed.filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && !Array.isArray(s));
    } catch {
      // written by hand: no states
    }
  }
  return { userId: row.userId, status: row.status, states };
}

/**
 * Channel presence without I/O: the memberships as last published (`before`) against what the sockets say now
 * (`after`), for the same set of users. A user who appears is a join, one who disappears a leave, one whose
 * status or states changed an update. With a `hold`, a user whose last socket in a channel closed is none of
 * these: they stay a member for `graceMs`; back within it (same status and states) is no diff at all, still gone
 * after it is one leave.
 */
export function diffMembers(before: readonly MemberRow[], after: readonly MemberRow[], hold?: MemberHold): MembersDiff {
  const was = new Map(before.map((row) => [key(row), row]));
  const now = new Set(after.map(key));
  const diffs = new Map<string, ChannelDiff>();
  const diffOf = (channel: string) => {
    let diff = diffs.get(channel);
    if (!diff) diffs.set(channel, (diff = { channel, seq: 0, joins: [], leaves: [], updates: [] }));
    return diff;
  };
  const result: MembersDiff = { diffs: [], upserts: [], deletes: [], holds: [] };
  for (const member of after) {
    const previous = was.get(key(member));
    if (!previous) diffOf(member.channel).joins.push(memberOf(member));
    else if (previous.status !== member.status || previous.states !== member.states) diffOf(member.channel).updates.push(memberOf(member));
    else if (!previous.heldSince) continue;
    result.upserts.push(member);
  }
  for (const member of before) {
    if (now.has(key(member))) continue;
    if (hold && member.heldSince && hold.now.getTime() - member.heldSince.getTime() < hold.graceMs) continue;
    if (hold && !member.heldSince && hold.ended?.(member.channel, member.userId)) {
      result.holds.push({ channel: member.channel, userId: member.userId });
      continue;
    }
    diffOf(member.channel).leaves.push(memberOf(member));
    result.deletes.push({ channel: member.channel, userId: member.userId });
  }
  result.diffs = [...diffs.keys()].sort().map((channel) => diffs.get(channel)!);
  return result;
}
