/**
 * The module's domain types, in one place. A socket has few shapes, each for one reason: `SocketState` (what
 * this instance stored for one of its sockets), `PresenceSession` (a session as any instance reads it back),
 * `SessionEvent` (a session that started or ended, for hooks) and `PresenceRecord` (a raw table row, in
 * store/presence.entity.ts). The live socket itself is tracker/live-sessions.registry.ts's `LiveSession`.
 */

export type UsercountType = 'users' | 'sockets' | 'subscriptions';
export type SessionStatus = 'online' | 'idle';
export type UserStatus = SessionStatus | 'offline';

/** One socket as stored: what any instance can tell about a session, wherever it is connected. */
export interface PresenceSession {
  socketId: string;
  /** From the verified auth token; null for an anonymous socket. */
  userId: string | null;
  status: SessionStatus;
  /** Channels the socket is subscribed to. */
  channels: string[];
  /** The instance the socket is connected to. */
  instanceId: string;
  ip: string | null;
  origin: string | null;
  connectedAt: Date;
  updatedAt: Date;
  /** What the session set with `presence.setState` / `setSessionState`; null if nothing. */
  state: Record<string, unknown> | null;
}

/** What the table holds for one socket of this instance: written by a flush, and the base of the next diff. */
export interface SocketState {
  socketId: string;
  userId: string | null;
  /** The verified token object (compared by identity: a new token is a new object), and its JSON as stored. */
  token: unknown;
  authToken: string | null;
  ip: string | null;
  origin: string | null;
  status: SessionStatus;
  connectedAt: Date;
  channels: ReadonlySet<string>;
  /** The session state's JSON (keys sorted), stored on the presence row only; null for none. */
  state: string | null;
}

/** One flush of the write queue: applied with a handful of statements, whatever its size. */
export interface WriteBatch {
  /** Rows to insert or re-key: the socket's presence row (when `presence`) and the listed channels. */
  upserts: Array<{ socket: SocketRow; presence: boolean; channels: string[] }>;
  /** Sockets gone: every row of theirs is deleted. */
  removedSockets: string[];
  /** Subscriptions ended on sockets that stay. */
  removedChannels: Array<{ socketId: string; channel: string }>;
  /**
   * Sockets whose status alone changed, as far as their stored rows go: every row of each gets the new status by
   * socket id, without rewriting the rows' other columns (channels the socket just joined are in `upserts`).
   */
  statusChanges?: Array<{ socketId: string; status: SessionStatus }>;
}

/** The columns of a socket's rows: its state without what only the diff needs. */
export type SocketRow = Omit<SocketState, 'token' | 'channels'>;

// ------------------------------------------------------------------ channel presence (wire types)

/** One member of a channel: a user, with the status of their sockets in that channel. */
export interface Member {
  userId: string;
  status: SessionStatus;
  /** The states of the user's sessions in the channel that have one, in a fixed order (by their JSON). */
  states: Array<Record<string, unknown>>;
}

/** How a channel's members changed in one transaction, numbered per channel. Published on `prefix + channel`. */
export interface ChannelDiff {
  channel: string;
  seq: number;
  joins: Member[];
  leaves: Member[];
  updates: Member[];
}

/** The answer to `presence.members`: the members as of diff `seq`; later diffs continue from there. */
export interface ChannelSnapshot {
  channel: string;
  seq: number;
  members: Member[];
}

// ------------------------------------------------------------------ watched users (wire types)

/**
 * Published on `userPresence.prefix + userId` once per real transition of that user in the whole cluster.
 * Times are ISO text. `lastSeen` is when the user was last seen online or idle: for `offline`, the time they went
 * offline (after `offlineGraceMs`, when there is one); for `online` and `idle`, the time of the message (`at`).
 */
export interface UserPresenceMessage {
  userId: string;
  status: UserStatus;
  previousStatus: UserStatus;
  lastSeen: string | null;
  at: string;
}

/** One user in the answer to `presence.users`: `lastSeen` as in UserPresenceMessage (the time of the answer for online or idle). */
export interface WatchedUser {
  status: UserStatus;
  lastSeen: string | null;
}

// ------------------------------------------------------------------ transitions

export interface StatusChange {
  userId: string;
  from: UserStatus;
  to: UserStatus;
}

/**
 * Status transitions committed by one transaction; `deferred` users went sessionless but wait out the offline
 * grace; `channels` are the channel presence diffs of the same transaction.
 */
export interface Transitions {
  changes: StatusChange[];
  deferred: string[];
  channels: ChannelDiff[];
}

/** How a commit moved what the user count counts. */
export interface CountDelta {
  joinedSockets: number;
  leftSockets: number;
  joinedChannels: number;
  leftChannels: number;
  /** Sockets that changed user (logged in, out, or as someone else). */
  rekeyedSockets: number;
}

/** A session that started or ended with a commit. */
export type SessionRef = Pick<SocketState, 'socketId' | 'userId' | 'ip' | 'origin'>;

/**
 * Everything one committed transaction changed that the rest of the app hears about. Every writer of the table
 * (a flush, GC, reaping, a cold start, shutdown) describes its commit this way and hands it to CommitEffects.
 */
export interface Commit extends Partial<Transitions> {
  at: Date;
  /** Rows were dropped by a cleanup: reported as a `cleanup` event before anything else. */
  cleanup?: { instanceId?: string; socketIds?: string[] };
  connected?: SessionRef[];
  disconnected?: SessionRef[];
  counts?: Partial<CountDelta>;
}

/** Why a commit happened: the reason user events carry, and per user the socket that caused it, if known. */
export interface CommitCause {
  reason: StatusReason;
  instanceId: string;
  users?: ReadonlyMap<string, { socketId: string; reason: StatusReason }>;
  /** The instance is stopping: the count is published at once and no offline grace is started. */
  shutdown?: boolean;
}

// ------------------------------------------------------------------ events (what hooks receive)

/** Why a user's status changed. */
export type StatusReason = 'connect' | 'disconnect' | 'status' | 'auth' | 'instance-down' | 'cleanup';

export interface UserStatusEvent {
  type: 'user.online' | 'user.idle' | 'user.offline';
  userId: string;
  status: UserStatus;
  previousStatus: UserStatus;
  /** The socket whose change caused this one, when there is one. */
  socketId?: string;
  /** The instance of that socket (for 'instance-down', the instance that died). */
  instanceId: string;
  reason: StatusReason;
  at: Date;
}

export interface SessionEvent {
  type: 'session.connected' | 'session.disconnected';
  socketId: string;
  /** null for an anonymous socket. */
  userId: string | null;
  instanceId: string;
  ip: string | null;
  origin: string | null;
  at: Date;
}

/**
 * Rows were dropped by a cleanup. With `socketIds`: the sessions of instance `instanceId`, which died.
 * Without: a cold start (no other instance was alive, every old row was dropped): reset everyone to offline.
 */
export interface CleanupEvent {
  type: 'cleanup';
  instanceId?: string;
  socketIds?: string[];
  at: Date;
}

export type PresenceEvent = UserStatusEvent | SessionEvent | CleanupEvent;
export type PresenceEventType = PresenceEvent['type'];

// ------------------------------------------------------------------ session history (option `history`)

/**
 * How a session ended: its socket closed (`disconnect`), its instance stopped (`shutdown`), its instance died
 * and was reaped (`instance-down`, also a cold start's old rows), or GC collected rows no instance owned (`cleanup`).
 */
export type HistoryReason = 'disconnect' | 'shutdown' | 'instance-down' | 'cleanup';

/** One ended session, as `PresenceService.getSessionHistory` returns it. */
export interface SessionHistoryEntry {
  socketId: string;
  /** null for an anonymous session. */
  userId: string | null;
  connectedAt: Date;
  disconnectedAt: Date;
  reason: HistoryReason;
  instanceId: string;
}
