import { Injectable, Logger } from '@nestjs/common';
import type { AGServer, AGServerSocket } from 'socketcluster-server';
import { describeValue } from '../options/describe-value.util.js';
import { PresenceConfig } from '../options/presence.config.js';
import { MEMBERS_PROCEDURE, SET_STATE_PROCEDURE, SET_STATUS_PROCEDURE, USERS_PROCEDURE } from '../presence.constants.js';
import { ChannelPresence } from '../channels/channel-presence.service.js';
import { UserPresence } from '../users/user-presence.service.js';
import { revokeEndedAccess } from '../socketcluster/channel-access.check.js';
import { PresenceError } from '../presence.errors.js';
import { PresenceWriter } from './presence.writer.js';
import { settledWithin } from '../store/connection.bound.js';
import { userIdOf } from '../socketcluster/socket-identity.util.js';
import { tapServerEvents, type ListenerLoop } from '../socketcluster/listener-loop.util.js';
import { AgServerHost } from '../socketcluster/ag-server.host.js';
import type { InFlight, Procedure } from '../socketcluster/procedure.router.js';
import { encodeSessionState } from '../state/session-state.encode.js';
import { LiveSessions, type LiveSession } from './live-sessions.registry.js';
import {
  ANONYMOUS_STATE, ANONYMOUS_STATUS, SESSION_STATE_OFF, SOCKET_ID_TYPE, SOCKET_NOT_HERE, STATE_BUSY, STATE_NOT_STORED, STATUS_BUSY,
  STATUS_NOT_STORED, STATUS_VALUE,
} from '../presence.messages.js';

/** A read waits this long at most for the writes before it; then it reads what is stored. */
const OWN_WRITES_WAIT_MS = 5000;
/** Calls of one socket to a setting procedure answered at once (they wait for the store, or for their interval). */
const CALLS_IN_FLIGHT = 16;
const inFlight = (busy: (max: number) => string): InFlight => ({ max: CALLS_IN_FLIGHT, refusal: () => new PresenceError(busy(CALLS_IN_FLIGHT)) });
/** Shared by every socket: the router counts the calls per socket, the bound needs no copy per socket. */
const STATUS_IN_FLIGHT = inFlight(STATUS_BUSY);
const STATE_IN_FLIGHT = inFlight(STATE_BUSY);

type ServerEvent = 'connection' | 'subscription' | 'unsubscription' | 'authentication' | 'deauthentication' | 'closure';

/**
 * Follows the AGServer's lifecycle events, tapped as they are emitted (see `tapServerEvents`). Events only say
 * which socket changed; the writer reads the socket's state when it flushes.
 */
@Injectable()
export class PresenceTracker {
  private readonly logger = new Logger('PresenceTracker');
  private readonly loops: ListenerLoop[] = [];

  constructor(
    private readonly config: PresenceConfig,
    private readonly sessions: LiveSessions,
    private readonly writer: PresenceWriter,
    private readonly channels: ChannelPresence,
    private readonly users: UserPresence,
    private readonly host: AgServerHost,
  ) {}

  attach(server: AGServer): void {
    this.host.procedures.add(this.procedures());
    const touch = (socket: AGServerSocket) => this.writer.touch(socket.id);
    const leave = (socket: AGServerSocket) => this.writer.touch(socket.id, true);
    const reauthenticated = (socket: AGServerSocket, mark: (socket: AGServerSocket) => void) => {
      this.startOverForOtherUser(socket);
      mark(socket);
      this.recheckAccess(socket);
    };
    const handlers: Record<ServerEvent, (event: { socket: AGServerSocket; channel?: unknown }) => void> = {
      connection: ({ socket }) => this.connected(socket),
      subscription: ({ socket }) => touch(socket),
      // Access to a channel's or a user's presence can end: leaving the channel, or becoming someone else (or no one).
      unsubscription: ({ socket, channel }) => {
        leave(socket);
        this.recheckAccess(socket, [channel as string]);
      },
      authentication: ({ socket }) => reauthenticated(socket, touch),
      deauthentication: ({ socket }) => reauthenticated(socket, leave),
      // 'closure' follows both 'disconnection' and 'connectionAbort', so it covers every way a socket ends.
      closure: ({ socket }) => {
        this.sessions.remove(socket.id);
        leave(socket);
      },
    };
    this.loops.push(
      tapServerEvents(server, handlers, (event, error) => this.logger.error(`handling '${event}' failed: ${error.message}`, error.stack)),
    );
    // Sockets that were already open when presence started (a server passed in, already in use).
    for (const socket of Object.values(server.clients)) this.connected(socket);
  }

  /** Ends the taps (and only ours: the app's own consumers of the same events keep running). */
  async stop(): Promise<void> {
    await Promise.all(this.loops.splice(0).map((loop) => loop.stop()));
  }

  /**
   * Waits until what this instance accepted so far is stored (at most OWN_WRITES_WAIT_MS), so that a read
   * that follows sees it: a socket that has just subscribed finds itself among the members.
   */
  async ownWrites(): Promise<void> {
    await this.writer.settle(OWN_WRITES_WAIT_MS);
  }

  /**
   * Sets the status of a socket of this instance and resolves once it is stored. The same rules serve the
   * client's `presence.setStatus` invoke and `PresenceService.setSessionStatus`.
   */
  async setStatus(socketId: unknown, status: unknown): Promise<void> {
    if (status !== 'online' && status !== 'idle') {
      throw new PresenceError(STATUS_VALUE(describeValue(status)));
    }
    const { session, userId } = this.ownSession(socketId, ANONYMOUS_STATUS);
    session.statusUserId = status === 'online' ? undefined : userId;
    if (session.status !== status) {
      session.status = status;
      await this.turn(session, 'status');
    }
    await this.stored(STATUS_NOT_STORED);
  }

  /**
   * Sets (or with null clears) the state of a socket of this instance and resolves once it is stored. The same
   * rules serve the client's `presence.setState` invoke and `PresenceService.setSessionState`; a refused state
   * changes nothing.
   */
  async setState(socketId: unknown, state: unknown): Promise<void> {
    const options = this.config.options.sessionState;
    if (!options) throw new PresenceError(SESSION_STATE_OFF);
    const encoded = encodeSessionState(state, options.maxBytes);
    if ('problem' in encoded) throw new PresenceError(encoded.problem);
    const { session, userId } = this.ownSession(socketId, ANONYMOUS_STATE);
    const current = session.state?.userId === userId ? session.state.json : null;
    if (current !== encoded.json) {
      session.state = encoded.json === null ? undefined : { json: encoded.json, userId };
      await this.turn(session, 'state');
    }
    await this.stored(STATE_NOT_STORED);
  }

  /** The open, authenticated session of a socket of this instance, or the PresenceError that says why not. */
  private ownSession(socketId: unknown, anonymous: string): { session: LiveSession; userId: string } {
    if (typeof socketId !== 'string') throw new PresenceError(SOCKET_ID_TYPE);
    const session = this.sessions.get(socketId);
    if (!session) throw new PresenceError(SOCKET_NOT_HERE(socketId));
    const { userId } = userIdOf(session.socket.authToken, this.config.options.userIdField);
    if (userId === null) throw new PresenceError(anonymous);
    return { session, userId };
  }

  /** Answered within a bound even while the database is unreachable: the change stays queued. */
  private async stored(notStored: (ms: number) => string): Promise<void> {
    const ms = this.config.options.statementTimeoutMs;
    if (!(await settledWithin(this.writer.written(), ms)).done) throw new PresenceError(notStored(ms));
  }

  /**
   * Hands a change of a socket's status (or of its state: each has its own turn) to the writer at most once per
   * `limits.statusIntervalMs`: a change within the interval waits for its end, together with any others made
   * meanwhile, and the writer stores only the last of them. A client that flaps or types fast costs one write
   * (and at most one hook or diff) per interval, not one per call.
   */
  private turn(session: LiveSession, kind: 'status' | 'state'): Promise<void> {
    const writtenAt = `${kind}WrittenAt` as const;
    const held = `${kind}Held` as const;
    const interval = this.config.options.limits.statusIntervalMs;
    const now = Date.now();
    const last = session[writtenAt];
    const wait = last === undefined ? 0 : last + interval - now;
    if (wait <= 0 && !session[held]) {
      session[writtenAt] = now;
      this.writer.touch(session.socket.id);
      return Promise.resolve();
    }
    session[held] ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        session[held] = undefined;
        session[writtenAt] = Date.now();
        this.writer.touch(session.socket.id);
        resolve();
      }, Math.max(wait, 0)).unref();
    });
    return session[held];
  }

  /**
   * A socket that logs out or in as someone else starts over as a new session would: online, without a state.
   * Both described the previous user; a renewed token of the same user keeps them.
   */
  private startOverForOtherUser(socket: AGServerSocket): void {
    const session = this.sessions.get(socket.id);
    if (!session) return;
    const { userId } = userIdOf(socket.authToken, this.config.options.userIdField);
    if (session.state && session.state.userId !== userId) session.state = undefined;
    if (session.statusUserId !== undefined && session.statusUserId !== userId) {
      session.status = 'online';
      session.statusUserId = undefined;
    }
  }

  private connected(socket: AGServerSocket): void {
    if (this.sessions.has(socket.id)) return;
    this.sessions.add(socket);
    this.writer.touch(socket.id);
  }

  /**
   * The client's procedures, one entry each (name, handler, calls of a socket at once), answered for every socket
   * by the server's procedure router (socketcluster/procedure.router.ts).
   */
  private procedures(): Procedure[] {
    // All of them, whether their feature is on or not: a call of one that is off is answered at once with the
    // option that turns it on, instead of waiting for the client's ack timeout with nobody to answer it.
    return [
      // A socket only ever sets its own status and state. Several calls at once, so that the changes held by
      // limits.statusIntervalMs share one write and all resolve once it is stored; past a few in flight a
      // flapping client is refused rather than queued.
      { name: SET_STATUS_PROCEDURE, handle: (socket, data) => this.setStatus(socket.id, data), inFlight: STATUS_IN_FLIGHT },
      { name: SET_STATE_PROCEDURE, handle: (socket, data) => this.setState(socket.id, data), inFlight: STATE_IN_FLIGHT },
      { name: MEMBERS_PROCEDURE, handle: (socket, data) => this.channels.members(socket, data, () => this.ownWrites()) },
      { name: USERS_PROCEDURE, handle: (socket, data) => this.users.statuses(socket, data, () => this.ownWrites()) },
    ];
  }

  /** Not awaited: a slow `canSubscribe` must not hold up the events of other sockets. */
  private recheckAccess(socket: AGServerSocket, channels?: string[]): void {
    const { channelPresence, userPresence } = this.config.options;
    if ((!channelPresence && !userPresence) || socket.state !== socket.OPEN) return;
    revokeEndedAccess(this.config.options, socket, channels).catch((error: Error) =>
      this.logger.error(`re-checking access to presence channels failed: ${error.message}`, error.stack),
    );
  }
}
