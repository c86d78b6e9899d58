import type { CountDelta, SessionRef, SocketRow, SocketState, StatusReason, WriteBatch } from '../presence.types.js';

/**
 * What the writer keeps of a socket it stored, for the next diff: the state without the columns only a write
 * needs (the token's JSON, the connection time), which it takes from the live socket again.
 */
export type StoredSocket = Omit<SocketState, 'authToken' | 'connectedAt'>;

/** What a flush must write, and what it will have changed once written. */
export interface SocketDiff {
  batch: WriteBatch;
  /** The stored state after the write: a new state per socket, or null for a socket whose rows go. */
  next: Map<string, SocketState | null>;
  counts: CountDelta;
  /** Sockets stored for the first time, and sockets removed. */
  connected: SessionRef[];
  disconnected: SessionRef[];
  /** Users whose status may have changed, each with the socket change that may have changed it. */
  causes: Map<string, { socketId: string; reason: StatusReason }>;
  /** Users whose channels changed, for channel presence (only channels that `watched` accepts). */
  channelUsers: Set<string>;
}

export interface SocketDiffInput {
  /** The dirty sockets. */
  ids: Iterable<string>;
  /** The live state of an open socket; undefined once it has closed. */
  live: (socketId: string) => SocketState | undefined;
  /** What the table holds for this instance's sockets, as last written. */
  stored: ReadonlyMap<string, StoredSocket>;
  /** After an outage: every live socket is written again in full, whatever is believed stored. */
  rewriteAll: boolean;
  /** Channels with channel presence; undefined when it is off. */
  watched?: (channel: string) => boolean;
  /** The token a socket presented at its handshake, to tell a login right after connecting from it. */
  handshakeToken?: (socketId: string) => unknown;
}

const ref = (state: StoredSocket): SessionRef => ({ socketId: state.socketId, userId: state.userId, ip: state.ip, origin: state.origin });
/** The row's columns, named: V8 copies a rest pattern (`{ token, channels, ...columns }`) slowly. */
const row = ({ socketId, userId, authToken, ip, origin, status, connectedAt, state }: SocketState): SocketRow => ({
  socketId, userId, authToken, ip, origin, status, connectedAt, state,
});

/**
 * The writer's diff, without I/O: each dirty socket's live state against what was last stored. A socket that
 * connected and left between two flushes is in neither and costs nothing; a socket whose key columns (user,
 * token) changed is written in full; otherwise only its new channels are, its presence row if its state changed
 * (a state change is a channel change of the user's channels too: their members carry it), and its status, if
 * that changed, is set on its rows.
 */
export function diffSockets({ ids, live: liveOf, stored, rewriteAll, watched, handshakeToken }: SocketDiffInput): SocketDiff {
  const statusChanges: NonNullable<WriteBatch['statusChanges']> = [];
  const diff: SocketDiff = {
    batch: { upserts: [], removedSockets: [], removedChannels: [], statusChanges },
    next: new Map(),
    counts: { joinedSockets: 0, leftSockets: 0, joinedChannels: 0, leftChannels: 0, rekeyedSockets: 0 },
    connected: [],
    disconnected: [],
    causes: new Map(),
    channelUsers: new Set(),
  };
  const { batch, counts } = diff;
  const channelChange = (userId: string | null, channel: string) => {
    if (watched && userId !== null && watched(channel)) diff.channelUsers.add(userId);
  };
  const cause = (userId: string | null, socketId: string, reason: StatusReason) => {
    if (userId !== null) diff.causes.set(userId, { socketId, reason });
  };
  for (const id of ids) {
    const live = liveOf(id);
    const previous = stored.get(id);
    const before = rewriteAll ? undefined : previous;
    if (!live) {
      if (previous) {
        if (!rewriteAll) batch.removedSockets.push(id);
        counts.leftSockets++;
        counts.leftChannels += previous.channels.size;
        diff.disconnected.push(ref(previous));
        for (const ch of previous.channels) channelChange(previous.userId, ch);
        cause(previous.userId, id, 'disconnect');
        diff.next.set(id, null);
      }
      continue;
    }
    const { userId, channels } = live;
    // A status change alone keeps the rows and only sets their status (see WriteBatch.statusChanges).
    const rekey = !before || before.token !== live.token || before.userId !== userId;
    if (rekey) {
      batch.upserts.push({ socket: row(live), presence: true, channels: [...channels] });
      if (!previous) {
        counts.joinedSockets++;
        diff.connected.push(ref(live));
        // A login on the new socket before its first write is still a login, whatever the flush timing.
        const loggedIn = userId !== null && handshakeToken !== undefined && live.token !== handshakeToken(id);
        cause(userId, id, loggedIn ? 'auth' : 'connect');
      } else if (previous.userId !== userId) {
        // Only a change of user moves a count; a new token or a status change does not.
        counts.rekeyedSockets++;
        cause(previous.userId, id, 'auth');
        cause(userId, id, 'auth');
      } else if (previous.status !== live.status) {
        cause(userId, id, 'status');
      } else if (rewriteAll) {
        cause(userId, id, 'cleanup');
      }
    } else {
      if (before.status !== live.status) {
        statusChanges.push({ socketId: id, status: live.status });
        cause(userId, id, 'status');
      }
      // The state lives on the presence row only: a new state rewrites that row, not the channel rows.
      const stateChanged = before.state !== live.state;
      const added = [...channels].filter((ch) => !before.channels.has(ch));
      if (added.length > 0 || stateChanged) batch.upserts.push({ socket: row(live), presence: stateChanged, channels: added });
    }
    for (const ch of channels) {
      const same = previous?.userId === userId && previous.status === live.status && previous.state === live.state;
      if (previous?.channels.has(ch) && same) continue;
      if (!previous?.channels.has(ch)) counts.joinedChannels++;
      channelChange(userId, ch);
      if (previous) channelChange(previous.userId, ch);
    }
    if (previous) {
      for (const ch of previous.channels) {
        if (channels.has(ch)) continue;
        counts.leftChannels++;
        channelChange(previous.userId, ch);
        if (before) batch.removedChannels.push({ socketId: id, channel: ch });
      }
    }
    diff.next.set(id, live);
  }
  return diff;
}
