import { Injectable, Logger } from '@nestjs/common';
import type { AGServer, AGServerSocket } from 'socketcluster-server';
import { describeValue } from '../options/describe-value.util.js';
import { PresenceConfig } from '../options/presence.config.js';
import { MEMBERS_PROCEDURE, SET_STATUS_PROCEDURE } from '../presence.constants.js';
import { ChannelPresence } from '../channels/channel-presence.service.js';
import { revokeEndedAccess } from '../socketcluster/channel-access.check.js';
import { PresenceError } from '../presence.errors.js';
import { PresenceWriter } from './presence.writer.js';
import { settledWithin } from '../store/connection.bound.js';
import { userIdOf } from '../socketcluster/socket-identity.util.js';
import { consumeListener, type ListenerLoop } from '../socketcluster/listener-loop.util.js';
import { AgServerHost } from '../socketcluster/ag-server.host.js';
import type { Procedure } from '../socketcluster/procedure.router.js';
import { LiveSessions, type LiveSession } from './live-sessions.registry.js';
import { ANONYMOUS_STATUS, SOCKET_ID_TYPE, SOCKET_NOT_HERE, STATUS_BUSY, STATUS_NOT_STORED, STATUS_VALUE } from '../presence.messages.js';

/** A read waits this long at most for the writes before it; then it reads what is stored. */
const OWN_WRITES_WAIT_MS = 5000;
/** `presence.setStatus` calls of one socket answered at once (they wait for the store, or for their interval). */
const STATUS_CALLS_IN_FLIGHT = 16;

type ServerEvent = 'connection' | 'subscription' | 'unsubscription' | 'authentication' | 'deauthentication' | 'closure';

/**
 * Follows the AGServer's lifecycle events: one consumer per listener. Events only say which socket changed;
 * the writer reads the socket's state when it flushes, so the order in which the listener loops run does not
 * matter.
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
    private readonly host: AgServerHost,
  ) {}

  attach(server: AGServer): void {
    this.host.procedures.add(this.procedures());
    this.consume(server, 'connection', (socket) => this.connected(socket));
    const touch = (socket: AGServerSocket) => this.writer.touch(socket.id);
    this.consume(server, 'subscription', touch);
    // Access to a channel's presence can end: leaving the channel, or becoming someone else (or no one).
    this.consume(server, 'unsubscription', (socket, { channel }) => {
      touch(socket);
      this.recheckAccess(socket, [channel as string]);
    });
    const reauthenticated = (socket: AGServerSocket) => {
      touch(socket);
      this.recheckAccess(socket);
    };
    this.consume(server, 'authentication', reauthenticated);
    this.consume(server, 'deauthentication', reauthenticated);
    // 'closure' follows both 'disconnection' and 'connectionAbort', so it covers every way a socket ends.
    this.consume(server, 'closure', (socket) => {
      this.sessions.remove(socket.id);
      this.writer.touch(socket.id);
    });
    // Sockets that were already open when presence started (a server passed in, already in use).
    for (const socket of Object.values(server.clients)) this.connected(socket);
  }

  /** Ends the listener loops (and only ours: the app's own consumers of the same events keep running). */
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
    if (typeof socketId !== 'string') throw new PresenceError(SOCKET_ID_TYPE);
    const session = this.sessions.get(socketId);
    if (!session) throw new PresenceError(SOCKET_NOT_HERE(socketId));
    if (userIdOf(session.socket.authToken, this.config.options.userIdField).userId === null) {
      throw new PresenceError(ANONYMOUS_STATUS);
    }
    if (session.status !== status) {
      session.status = status;
      await this.statusTurn(session);
    }
    // Answered within a bound even while the database is unreachable: the change stays queued.
    const ms = this.config.options.statementTimeoutMs;
    if (!(await settledWithin(this.writer.written(), ms)).done) throw new PresenceError(STATUS_NOT_STORED(ms));
  }

  /**
   * Hands a status change to the writer at most once per `limits.statusIntervalMs`: a change within the interval
   * waits for its end, together with any others made meanwhile, and the writer stores only the last of them.
   * A client that flaps costs one write (and at most one hook) per interval, not one per call.
   */
  private statusTurn(session: LiveSession): Promise<void> {
    const interval = this.config.options.limits.statusIntervalMs;
    const now = Date.now();
    const wait = session.statusWrittenAt === undefined ? 0 : session.statusWrittenAt + interval - now;
    if (wait <= 0 && !session.statusHeld) {
      session.statusWrittenAt = now;
      this.writer.touch(session.socket.id);
      return Promise.resolve();
    }
    session.statusHeld ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        session.statusHeld = undefined;
        session.statusWrittenAt = Date.now();
        this.writer.touch(session.socket.id);
        resolve();
      }, Math.max(wait, 0)).unref();
    });
    return session.statusHeld;
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
    const { channelPresence } = this.config.options;
    const statusBusy = () => new PresenceError(STATUS_BUSY(STATUS_CALLS_IN_FLIGHT));
    return [
      // A socket only ever sets its own status. Several calls at once, so that the changes held by
      // limits.statusIntervalMs share one write and all resolve once it is stored; past a few in flight a
      // flapping client is refused rather than queued.
      { name: SET_STATUS_PROCEDURE, handle: (socket, data) => this.setStatus(socket.id, data), inFlight: { max: STATUS_CALLS_IN_FLIGHT, refusal: statusBusy } },
      ...(channelPresence ? [{ name: MEMBERS_PROCEDURE, handle: (socket, data) => this.channels.members(socket, data, () => this.ownWrites()) } satisfies Procedure] : []),
    ];
  }

  /** Not awaited: a slow `canSubscribe` must not hold up the events of other sockets. */
  private recheckAccess(socket: AGServerSocket, channels?: string[]): void {
    if (!this.config.options.channelPresence || socket.state !== socket.OPEN) return;
    revokeEndedAccess(this.config.options, socket, channels).catch((error: Error) =>
      this.logger.error(`re-checking access to channel presence failed: ${error.message}`, error.stack),
    );
  }

  private consume(
    server: AGServer,
    event: ServerEvent,
    handle: (socket: AGServerSocket, data: { channel?: unknown }) => void,
  ): void {
    this.loops.push(
      consumeListener<{ socket: AGServerSocket; channel?: unknown }>(server, event, (data) => handle(data.socket, data), (error) =>
        this.logger.error(`handling '${event}' failed: ${error.message}`, error.stack),
      ),
    );
  }
}
