import type { ChannelDiff, SessionStatus } from '../presence.types.js';

/** A user's membership of one channel, with the status of their sockets in it. */
export interface MemberRow {
  channel: string;
  userId: string;
  status: SessionStatus;
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
 * Channel presence without I/O: the memberships as last published (`before`) against what the sockets say now
 * (`after`), for the same set of users. A user who appears is a join, one who disappears a leave, one whose
 * status changed an update. With a `hold`, a user whose last socket in a channel closed is none of these: they
 * stay a member for `graceMs`; back within it (same status) is no diff at all, still gone after it is one leave.
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
    const entry = { userId: member.userId, status: member.status };
    if (!previous) diffOf(member.channel).joins.push(entry);
    else if (previous.status !== member.status) diffOf(member.channel).updates.push(entry);
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
    diffOf(member.channel).leaves.push({ userId: member.userId, status: member.status });
    result.deletes.push({ channel: member.channel, userId: member.userId });
  }
  result.diffs = [...diffs.keys()].sort().map((channel) => diffs.get(channel)!);
  return result;
}
