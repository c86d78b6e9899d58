import { Injectable, Logger } from '@nestjs/common';
import { PresenceInstance } from '../cluster/presence-instance.js';
import { PresenceConfig } from '../options/presence.config.js';
import type { SessionStatus } from '../options/presence-options.interface.js';
import { LiveSessions, type LiveSession } from '../socketcluster/live-sessions.js';
import { channelProblem, ipOf, originOf, tokenJsonOf, userIdOf } from '../socketcluster/socket-identity.js';
import type { StatusReason } from '../events/presence-event.interface.js';
import { PresenceStore, type SocketRecord, type Transitions, type WriteBatch } from './presence.store.js';

/** What the table holds for one socket, as far as this instance knows: the base the next diff is made against. */
interface Stored {
  /** Kept for the session events of a socket that has gone (its IP and origin). */
  socket: LiveSession['socket'];
  userId: string | null;
  token: unknown;
  status: SessionStatus;
  channels: Set<string>;
}

/** What one successful flush changed. */
export interface FlushResult {
  joinedSockets: number;
  leftSockets: number;
  joinedChannels: number;
  leftChannels: number;
  /** Sockets that changed user (logged in, out, or as someone else). */
  rekeyedSockets: number;
  /** Sockets stored for the first time, and sockets removed. */
  connected: SessionInfo[];
  disconnected: SessionInfo[];
  /** Users whose status may have changed, each with the socket change that may have changed it. */
  causes: Map<string, { socketId: string; reason: StatusReason }>;
  /** Users whose channels changed, for channel presence (only when it is enabled). */
  channelUsers: Set<string>;
  /** The status changes committed with this flush. */
  transitions: Transitions;
  at: Date;
}

export interface SessionInfo {
  socketId: string;
  userId: string | null;
  ip: string | null;
  origin: string | null;
}

const MAX_BACKOFF_MS = 5000;

/**
 * Write-behind queue between the tracker and the store. Events only mark a socket dirty; a flush compares each
 * dirty socket's live state with what was last stored and writes the difference for all of them at once. So a
 * socket that connects and leaves within one flush costs nothing, and a storm of N connects costs N / 500
 * statements. Failed writes keep their sockets dirty and are retried with backoff: memory stays bounded by the
 * number of sockets, and after an outage the table is reconciled with the live sockets.
 */
@Injectable()
export class PresenceWriter {
  private readonly logger = new Logger('PresenceWriter');
  private readonly dirty = new Set<string>();
  private readonly stored = new Map<string, Stored>();
  private readonly listeners: Array<(result: FlushResult) => void | Promise<void>> = [];
  private readonly warnedTokens = new WeakSet<object>();
  private waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private failures = 0;
  private lastTouch = 0;
  private reconcileNeeded = false;
  private stopped = false;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly sessions: LiveSessions,
    private readonly instance: PresenceInstance,
  ) {}

  /** Called after every successful flush, in order; a listener's error is logged and does not stop the others. */
  onFlush(listener: (result: FlushResult) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  touch(socketId: string): void {
    this.dirty.add(socketId);
    this.lastTouch = Date.now();
    this.schedule(this.config.options.flushIntervalMs);
  }

  /** After an outage: rewrite every live socket and delete whatever else this instance left in the table. */
  requestReconcile(): void {
    this.reconcileNeeded = true;
    this.schedule(0);
  }

  /** Resolves once everything touched so far is stored. */
  written(): Promise<void> {
    if (this.dirty.size === 0 && !this.flushing && !this.reconcileNeeded) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * How many rows this instance has in the table, as far as it knows; undefined while writes are pending
   * (then the table is about to change anyway).
   */
  get storedRows(): number | undefined {
    if (this.dirty.size > 0 || this.flushing || this.reconcileNeeded) return undefined;
    let rows = 0;
    for (const stored of this.stored.values()) rows += 1 + stored.channels.size;
    return rows;
  }

  /** Writes everything still queued; used before shutdown. Gives up after a few failed attempts. */
  async drain(attempts = 3): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (let i = 0; i < attempts && (this.dirty.size > 0 || this.flushing); i++) {
      await this.flushing;
      if (this.dirty.size > 0) await this.flush();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * A flush waits until changes pause for `flushIntervalMs`, but never more than 3 × `flushIntervalMs` after
   * the first of them: a single event is written after one interval, a storm in few large batches.
   */
  private schedule(delay: number): void {
    if (this.stopped || this.timer || this.flushing) return;
    const first = Date.now();
    const interval = this.config.options.flushIntervalMs;
    const fire = (wait: number) => {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        const now = Date.now();
        const quietFor = now - this.lastTouch;
        if (this.failures === 0 && quietFor < interval && now - first + interval - quietFor < 3 * interval) {
          fire(interval - quietFor);
          return;
        }
        void this.flush();
      }, wait);
    };
    fire(delay);
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = undefined;
      if (this.dirty.size > 0 || this.reconcileNeeded || this.waiters.length > 0) {
        this.schedule(this.failures > 0 ? Math.min(100 * 2 ** (this.failures - 1), MAX_BACKOFF_MS) : this.config.options.flushIntervalMs);
      }
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    const reconcile = this.reconcileNeeded;
    if (reconcile) {
      for (const id of this.sessions.ids()) this.dirty.add(id);
      for (const id of this.stored.keys()) this.dirty.add(id);
    }
    const ids = [...this.dirty];
    const waiters = this.waiters;
    this.waiters = [];
    this.dirty.clear();
    this.reconcileNeeded = false;
    const { batch, next, result } = this.diff(ids, reconcile);
    const empty = batch.upserts.length + batch.removedSockets.length + batch.removedChannels.length === 0;
    try {
      if (empty && result.causes.size === 0 && result.channelUsers.size === 0 && !reconcile) {
        for (const resolve of waiters) resolve();
        return;
      }
      const written = await this.store.write(batch, this.instance.id, result.at, {
        users: [...result.causes.keys(), ...result.channelUsers],
        deferOffline: this.config.options.offlineGraceMs > 0,
        reconcile,
      });
      result.transitions = written;
      if (written.ghosts > 0) {
        result.leftSockets += written.ghosts;
        this.logger.log(`reconciled the table with the live sockets: ${written.ghosts} stale rows removed`);
      }
    } catch (error) {
      for (const id of ids) this.dirty.add(id);
      this.reconcileNeeded ||= reconcile;
      this.waiters.unshift(...waiters);
      this.failures++;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.logger.error(`writing ${ids.length} sockets failed (attempt ${this.failures}), will retry: ${(error as Error).message}`);
      }
      return;
    }
    if (this.failures > 0) {
      this.logger.log(`writes succeed again after ${this.failures} failed attempts`);
      this.failures = 0;
      if (!reconcile) this.requestReconcile();
    }
    for (const [id, value] of next) {
      if (value) this.stored.set(id, value);
      else this.stored.delete(id);
    }
    for (const listener of this.listeners) {
      try {
        await listener(result);
      } catch (error) {
        this.logger.error(`a flush listener failed: ${(error as Error).message}`, (error as Error).stack);
      }
    }
    for (const resolve of waiters) resolve();
  }

  private diff(ids: string[], rewriteAll: boolean) {
    const { userIdField, presenceChannel } = this.config.options;
    const batch: WriteBatch = { upserts: [], removedSockets: [], removedChannels: [] };
    const next = new Map<string, Stored | null>();
    const result: FlushResult = {
      joinedSockets: 0, leftSockets: 0, joinedChannels: 0, leftChannels: 0, rekeyedSockets: 0,
      connected: [], disconnected: [], causes: new Map(), channelUsers: new Set(), transitions: { changes: [], deferred: [] },
      at: new Date(),
    };
    const watched = this.config.options.channelPresence;
    const channelChange = (userId: string | null, channel: string) => {
      if (watched && userId !== null && watched.matches(channel)) result.channelUsers.add(userId);
    };
    const cause = (userId: string | null, socketId: string, reason: StatusReason) => {
      if (userId !== null) result.causes.set(userId, { socketId, reason });
    };
    for (const id of ids) {
      const live = this.sessions.get(id);
      const before = rewriteAll ? undefined : this.stored.get(id);
      const previous = this.stored.get(id);
      if (!live) {
        if (previous) {
          if (!rewriteAll) batch.removedSockets.push(id);
          result.leftSockets++;
          result.leftChannels += previous.channels.size;
          result.disconnected.push(this.info(previous.socket, previous.userId));
          for (const ch of previous.channels) channelChange(previous.userId, ch);
          cause(previous.userId, id, 'disconnect');
          next.set(id, null);
        }
        continue;
      }
      const token = live.socket.authToken;
      const { userId, problem } = userIdOf(token, userIdField);
      if (problem && token && !this.warnedTokens.has(token)) {
        this.warnedTokens.add(token);
        this.logger.warn(`socket ${id} is tracked as anonymous: ${problem}`);
      }
      const channels = new Set(live.socket.subscriptions().filter((ch) => channelProblem(ch, presenceChannel) === null));
      const rekey = !before || before.token !== token || before.userId !== userId || before.status !== live.status;
      if (rekey) {
        batch.upserts.push({ socket: this.record(live, userId, token), presence: true, channels: [...channels] });
        if (!previous) {
          result.joinedSockets++;
          result.connected.push(this.info(live.socket, userId));
          // A login on the new socket before its first write is still a login, whatever the flush timing.
          cause(userId, id, userId !== null && token !== live.handshakeToken ? 'auth' : 'connect');
        } else {
          if (previous.userId !== userId) {
            // Only a change of user moves a count; a new token or a status change does not.
            result.rekeyedSockets++;
            cause(previous.userId, id, 'auth');
            cause(userId, id, 'auth');
          } else if (previous.status !== live.status) {
            cause(userId, id, 'status');
          } else if (rewriteAll) {
            cause(userId, id, 'cleanup');
          }
        }
      } else {
        const added = [...channels].filter((ch) => !before.channels.has(ch));
        if (added.length > 0) batch.upserts.push({ socket: this.record(live, userId, token), presence: false, channels: added });
      }
      for (const ch of channels) {
        if (previous?.channels.has(ch) && previous.userId === userId && previous.status === live.status) continue;
        if (!previous?.channels.has(ch)) result.joinedChannels++;
        channelChange(userId, ch);
        if (previous) channelChange(previous.userId, ch);
      }
      if (previous) {
        for (const ch of previous.channels) {
          if (channels.has(ch)) continue;
          result.leftChannels++;
          channelChange(previous.userId, ch);
          if (before) batch.removedChannels.push({ socketId: id, channel: ch });
        }
      }
      next.set(id, { socket: live.socket, userId, token, status: live.status, channels });
    }
    return { batch, next, result };
  }

  private info(socket: LiveSession['socket'], userId: string | null): SessionInfo {
    return { socketId: socket.id, userId, ip: ipOf(socket), origin: originOf(socket) };
  }

  private record(live: LiveSession, userId: string | null, token: unknown): SocketRecord {
    return {
      socketId: live.socket.id,
      userId,
      authToken: tokenJsonOf(token),
      ip: ipOf(live.socket),
      origin: originOf(live.socket),
      status: live.status,
      connectedAt: live.connectedAt,
    };
  }
}
