import { Injectable } from '@nestjs/common';
import type { AGServer } from 'socketcluster-server';
import { PresenceConfig } from './options/presence.config.js';
import type { SessionHistoryEntry, SessionStatus, UserStatus, UsercountType } from './presence.types.js';
import { PresenceError } from './presence.errors.js';
import type { PresenceSession } from './presence.types.js';
import { AgServerHost } from './socketcluster/ag-server.host.js';
import { PresenceTracker } from './tracker/presence.tracker.js';
import { channelProblem, isWellFormed } from './socketcluster/socket-identity.util.js';
import { MAX_USER_ID_LENGTH } from './presence.constants.js';
import { PresenceStore } from './store/presence.store.js';
import type { Observable } from 'rxjs';
import type { ChannelDiff, PresenceEvent } from './presence.types.js';
import { ChannelPresence } from './channels/channel-presence.service.js';
import { PresenceEvents } from './events/presence-events.service.js';
import {
  COUNT_TYPE, HISTORY_LIMIT, HISTORY_OFF, HISTORY_QUERY, HISTORY_SINCE, NO_SIGNATURE_KEY, TOKEN_PAYLOAD, USER_ID_VALUE, USER_IDS_TYPE,
} from './presence.messages.js';
import { describeValue } from './options/describe-value.util.js';

export interface UserStatusDetails {
  status: UserStatus;
  /** When the stored status last changed; null if the user was never seen. */
  since: Date | null;
  /**
   * When a session of the user was last seen changing or closing; null if never seen. With `history`, an offline
   * user's last seen is also looked up in the history, so it outlives the status row (pruned after `gc.retentionMs`).
   */
  lastSeen: Date | null;
}

export interface SessionHistoryQuery {
  /** Only sessions that ended at or after this. */
  since?: Date;
  /** At most this many sessions (default 100, at most 1000). */
  limit?: number;
}

const HISTORY_DEFAULT_LIMIT = 100;
const HISTORY_MAX_LIMIT = 1000;

const USERCOUNT_TYPES: readonly UsercountType[] = ['users', 'sockets', 'subscriptions'];

/**
 * Who is online, read from the shared table: every instance gives the same answers. Each read first waits for
 * this instance's pending writes (bounded), so it sees every change of its own sockets made before the call.
 */
@Injectable()
export class PresenceService {
  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly host: AgServerHost,
    private readonly tracker: PresenceTracker,
    private readonly events: PresenceEvents,
    private readonly channels: ChannelPresence,
  ) {}

  /** The AGServer presence runs on (e.g. to sign auth tokens with `socket.setAuthToken`). */
  get server(): AGServer {
    return this.host.get();
  }

  /**
   * Signs an auth token as the server's own `socket.setAuthToken` does: with its signature key, its algorithm and,
   * unless the payload has an `exp` claim, its default expiry (`socketcluster.authDefaultExpiry`). For an HTTP
   * login: the client presents the token at its handshake, or with `socket.authenticate(token)`.
   */
  async signToken(payload: Record<string, unknown>): Promise<string> {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new PresenceError(TOKEN_PAYLOAD(describeValue(payload)));
    const server = this.server;
    if (server.signatureKey === undefined) throw new PresenceError(NO_SIGNATURE_KEY);
    const { expiresIn, algorithm } = server.defaultSignatureOptions;
    // jsonwebtoken refuses an expiresIn next to an exp claim of the payload.
    const options = { ...(payload.exp == null ? { expiresIn } : {}), ...(algorithm ? { algorithm } : {}) };
    return (await server.auth.signToken(payload, server.signatureKey, options as Parameters<AGServer['auth']['signToken']>[2]))!;
  }

  /** The stored status: online if any session is online, idle if every session is idle, offline if none. */
  async getUserStatus(userId: string): Promise<UserStatus> {
    return (await this.getUserStatuses([userId]))[userId];
  }

  async getUserStatuses(userIds: string[]): Promise<Record<string, UserStatus>> {
    const details = await this.getUserStatusDetails(userIds);
    return Object.fromEntries(Object.entries(details).map(([id, d]) => [id, d.status]));
  }

  /** Status with the time it last changed and when the user was last seen (null for a user never seen). */
  async getUserStatusDetails(userIds: string[]): Promise<Record<string, UserStatusDetails>> {
    if (!Array.isArray(userIds)) throw new PresenceError(USER_IDS_TYPE);
    userIds.forEach(checkUserId);
    await this.tracker.ownWrites();
    const stored = await this.store.statuses(userIds);
    const result: Record<string, UserStatusDetails> = {};
    for (const userId of userIds) {
      const row = stored.get(userId);
      result[userId] = row ? { status: row.status, since: row.changedAt, lastSeen: row.lastSeen } : { status: 'offline', since: null, lastSeen: null };
    }
    const offline = Object.keys(result).filter((userId) => result[userId].status === 'offline');
    for (const [userId, ended] of await this.store.lastSessionEnds(offline)) {
      const details = result[userId];
      if (!details.lastSeen || details.lastSeen < ended) details.lastSeen = ended;
    }
    return result;
  }

  /**
   * The user's ended sessions, newest first (by when they ended), from the history (option `history`). A limit
   * above 1000 is capped at 1000. Sessions still open are not in it: see `getUserSessions`.
   */
  async getSessionHistory(userId: string, query: SessionHistoryQuery = {}): Promise<SessionHistoryEntry[]> {
    checkUserId(userId);
    if (typeof query !== 'object' || query === null || Array.isArray(query)) throw new PresenceError(HISTORY_QUERY);
    const { since, limit = HISTORY_DEFAULT_LIMIT } = query;
    if (since !== undefined && !(since instanceof Date && Number.isFinite(since.getTime()))) throw new PresenceError(HISTORY_SINCE);
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) throw new PresenceError(HISTORY_LIMIT(HISTORY_MAX_LIMIT));
    if (!this.store.recordsHistory) throw new PresenceError(HISTORY_OFF);
    await this.tracker.ownWrites();
    return this.store.sessionHistory(userId, since, Math.min(limit, HISTORY_MAX_LIMIT));
  }

  /** Every status change and session event, as the decorated hooks receive them. */
  get events$(): Observable<PresenceEvent> {
    return this.events.events$;
  }

  /**
   * The diffs of a channel with channel presence, as clients subscribed to `prefix + channel` receive them, from
   * whichever instance committed them: for backends that follow a room without a socket. Throws a PresenceError
   * at once for a channel without presence.
   */
  channelDiffs$(channel: string): Observable<ChannelDiff> {
    return this.channels.diffs$(channel);
  }

  async getUserSessions(userId: string): Promise<PresenceSession[]> {
    checkUserId(userId);
    await this.tracker.ownWrites();
    return this.store.sessionsOfUsers([userId]);
  }

  async getChannelMembers(channel: string): Promise<PresenceSession[]> {
    checkChannel(channel, this.config.options.presenceChannel);
    await this.tracker.ownWrites();
    return this.store.sessionsInChannel(channel);
  }

  /** The count of `type` (default: `usercount.type`) over the cluster, or within one channel. */
  async count(type?: UsercountType, channel?: string): Promise<number> {
    const usercount = this.config.options.usercount;
    const kind = type ?? (usercount ? usercount.type : 'users');
    if (!USERCOUNT_TYPES.includes(kind)) throw new PresenceError(COUNT_TYPE(USERCOUNT_TYPES));
    if (channel !== undefined) checkChannel(channel, this.config.options.presenceChannel);
    await this.tracker.ownWrites();
    return this.store.count(kind, channel);
  }

  /**
   * Sets the status of an authenticated socket connected to this instance, as the client's
   * `presence.setStatus` invoke does; resolves once it is stored. If the database does not answer within
   * `statementTimeoutMs`, rejects with a PresenceError; the status stays queued and is written later.
   */
  setSessionStatus(socketId: string, status: SessionStatus): Promise<void> {
    return this.tracker.setStatus(socketId, status);
  }

  /**
   * Sets the state of an authenticated socket connected to this instance (a plain JSON object of at most
   * `sessionState.maxBytes`), or clears it with null, as the client's `presence.setState` invoke does; resolves
   * once it is stored. A refused state rejects with a PresenceError and changes nothing.
   */
  setSessionState(socketId: string, state: object | null): Promise<void> {
    return this.tracker.setState(socketId, state);
  }
}

function checkUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH || !isWellFormed(userId)) {
    throw new PresenceError(USER_ID_VALUE(MAX_USER_ID_LENGTH));
  }
}

function checkChannel(channel: unknown, presenceChannel: string): void {
  const problem = channelProblem(channel, presenceChannel);
  if (problem) throw new PresenceError(problem);
}
