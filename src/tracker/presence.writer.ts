import { Injectable, Logger } from '@nestjs/common';
import { CommitEffects } from '../effects/commit.effects.js';
import { PresenceConfig } from '../options/presence.config.js';
import type { SocketState } from '../presence.types.js';
import { channelProblem, ipOf, originOf, tokenJsonOf, userIdOf } from '../socketcluster/socket-identity.util.js';
import { diffSockets, type StoredSocket } from '../state/socket.diff.js';
import { PresenceInstance } from '../store/presence.instance.js';
import { PresenceStore } from '../store/presence.store.js';
import { settledWithin } from '../store/connection.bound.js';
import { LiveSessions } from './live-sessions.registry.js';

const MAX_BACKOFF_MS = 5000;
/**
 * Sockets per flush. A storm's backlog goes in flushes of this many, one right after another: one transaction
 * for 16,000 disconnects held 48,000 row locks for seconds (on SQLite it also held the event loop), where
 * each of these takes a few hundred milliseconds and their hooks fire as each commits.
 */
export const MAX_FLUSH_SOCKETS = 2000;
/**
 * A change waits at most this many `flushIntervalMs` for its flush to start (and for the previous one to end).
 * A join (a connect, a subscribe, a login, a status or state) waits longer than a leave (a close, an unsubscribe,
 * a logout), as sc-presence published joins late and leaves at once: a reconnect storm after a deploy is mostly
 * joins, and a flush costs the same 6–7 statements whether it carries 30 sockets or 45; a leave is what ends
 * someone's presence, and with 3 intervals a steady 500 disconnects a second at 16k sockets left the offline
 * hooks' p99 at 95 ms inside the server on a 2-core machine, 60 of them waiting.
 */
const MAX_WAIT_INTERVALS = { join: 3, leave: 2, stormJoin: 10 };
/**
 * From this many sockets waiting, joins wait up to `MAX_WAIT_INTERVALS.stormJoin` intervals (or until
 * MAX_FLUSH_SOCKETS are waiting): a storm then goes in batches of a few hundred sockets instead of ~100. Per
 * socket a batch of 100 cost SQLite about twice what one of 500 did (random keys in 5 indexes: each commit
 * rewrites most of the pages it touches), and each batch adds its fixed statements. Below it a join still waits
 * at most 3 intervals; leaves never wait longer.
 */
export const STORM_SOCKETS = 50;

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
  private readonly stored = new Map<string, StoredSocket>();
  private readonly warnedTokens = new WeakSet<object>();
  private waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private failures = 0;
  private lastTouch = 0;
  /** When the oldest change, and the oldest leave, not yet taken by a flush were made; undefined when there is none. */
  private pendingSince?: number;
  private leaveSince?: number;
  private reconcileNeeded = false;
  private stopped = false;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly sessions: LiveSessions,
    private readonly instance: PresenceInstance,
    private readonly effects: CommitEffects,
  ) {}

  /** Marks a socket changed; `leave` when the change may end a presence (see MAX_WAIT_INTERVALS). */
  touch(socketId: string, leave = false): void {
    this.dirty.add(socketId);
    this.lastTouch = Date.now();
    this.pendingSince ??= this.lastTouch;
    if (leave) this.leaveSince ??= this.lastTouch;
    this.schedule();
    // A full batch waits for nothing more.
    if (this.dirty.size >= MAX_FLUSH_SOCKETS) this.flushNow();
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
   * Like `written()`, but a flush still waiting for its batch to fill starts now, and the wait ends after
   * `maxMs` in any case (e.g. while the database is unreachable). Resolves with whether everything was stored.
   */
  async settle(maxMs: number): Promise<boolean> {
    const done = this.written();
    this.flushNow();
    return (await settledWithin(done, maxMs)).done;
  }

  /** Starts the flush that is waiting for its batch to fill, if one is (not a retry's backoff). */
  private flushNow(): void {
    if (this.timer && this.failures === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    }
  }

  /**
   * How many rows this instance has in the table, as far as it knows; undefined while writes are pending
   * (then the table is about to change anyway).
   */
  get storedRows(): number | undefined {
    if (this.dirty.size > 0 || this.flushing || this.reconcileNeeded) return undefined;
    return this.lastStoredRows;
  }

  /**
   * How many rows this instance had in the table after its last flush, even while writes are pending: enough to
   * size a heartbeat's parts, not to check the table against (that is `storedRows`).
   */
  get lastStoredRows(): number {
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
   * When the next flush starts, unless `delay` says (a retry's backoff, a reconcile at once): once changes pause
   * for `flushIntervalMs`, or once the oldest change waiting has waited `MAX_WAIT_INTERVALS` × `flushIntervalMs`
   * (3 for a join, 10 once STORM_SOCKETS are waiting, 2 for a leave), or once MAX_FLUSH_SOCKETS are waiting,
   * whichever comes first. Only one flush runs at a time; changes made during it form the next batch, whose wait
   * counts from its first change, so after a long flush it may start at once (group commit). A single event is
   * written after one interval, a steady stream of a few sockets at least every 3 intervals (2 with leaves), a
   * storm in batches of hundreds.
   */
  private schedule(delay?: number): void {
    if (this.stopped || this.timer || this.flushing) return;
    const interval = this.config.options.flushIntervalMs;
    const due = () => Math.min(
      this.lastTouch + interval,
      (this.pendingSince ?? Date.now()) + (this.dirty.size >= STORM_SOCKETS ? MAX_WAIT_INTERVALS.stormJoin : MAX_WAIT_INTERVALS.join) * interval,
      (this.leaveSince ?? Infinity) + MAX_WAIT_INTERVALS.leave * interval,
    );
    const fire = (wait: number) => {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        // Changes made meanwhile move the quiet point: wait on, but never past the oldest change's bound.
        const left = delay === undefined && this.failures === 0 ? due() - Date.now() : 0;
        if (left > 0) fire(left);
        else void this.flush();
      }, Math.max(wait, 0));
    };
    fire(delay ?? due() - Date.now());
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushParts().finally(() => {
      this.flushing = undefined;
      if (this.dirty.size > 0 || this.reconcileNeeded || this.waiters.length > 0) {
        this.schedule(this.failures > 0 ? Math.min(100 * 2 ** (this.failures - 1), MAX_BACKOFF_MS) : undefined);
      }
    });
    return this.flushing;
  }

  /** Flushes part after part while a part leaves sockets over (and none fails). */
  private async flushParts(): Promise<void> {
    while (await this.flushOnce());
  }

  /**
   * Writes the dirty sockets, at most MAX_FLUSH_SOCKETS of them (a reconcile all at once: it deletes whatever
   * of this instance it did not just write). Returns whether it succeeded and left sockets over.
   */
  private async flushOnce(): Promise<boolean> {
    const reconcile = this.reconcileNeeded;
    if (reconcile) {
      for (const id of this.sessions.ids()) this.dirty.add(id);
      for (const id of this.stored.keys()) this.dirty.add(id);
    }
    const ids = reconcile ? [...this.dirty] : firstOf(this.dirty, MAX_FLUSH_SOCKETS);
    for (const id of ids) this.dirty.delete(id);
    const more = this.dirty.size > 0;
    // Waiters wait for everything touched before them, so they stay queued while a part is left; so does the
    // wait of what is left.
    const waiters = more ? [] : this.waiters;
    const since = this.pendingSince;
    const leaveSince = this.leaveSince;
    if (!more) {
      this.waiters = [];
      this.pendingSince = undefined;
      this.leaveSince = undefined;
    }
    this.reconcileNeeded = false;
    const watched = this.config.options.channelPresence;
    const diff = diffSockets({
      ids, live: (id) => this.liveState(id), stored: this.stored, rewriteAll: reconcile, watched: watched ? watched.matches : undefined,
      handshakeToken: (id) => this.sessions.get(id)?.handshakeToken,
    });
    const { batch, counts } = diff;
    const at = new Date();
    const empty = batch.upserts.length + batch.removedSockets.length + batch.removedChannels.length + (batch.statusChanges?.length ?? 0) === 0;
    let written: Awaited<ReturnType<PresenceStore['write']>>;
    try {
      if (empty && diff.causes.size === 0 && diff.channelUsers.size === 0 && !reconcile) {
        for (const resolve of waiters) resolve();
        return more;
      }
      written = await this.store.write(batch, this.instance.id, at, {
        users: [...diff.causes.keys(), ...diff.channelUsers],
        deferOffline: this.config.options.offlineGraceMs > 0,
        reconcile,
        lingering: this.lingering(diff.next),
      });
      if (written.ghosts > 0) {
        counts.leftSockets += written.ghosts;
        this.logger.log(`reconciled the table with the live sockets: ${written.ghosts} stale rows removed`);
      }
    } catch (error) {
      for (const id of ids) this.dirty.add(id);
      this.pendingSince = earliest(since, this.pendingSince) ?? Date.now();
      this.leaveSince = earliest(leaveSince, this.leaveSince);
      this.reconcileNeeded ||= reconcile;
      // Not unshift(...waiters): every call waiting on a write is one, and 160,000 of them overflowed the stack.
      this.waiters = waiters.concat(this.waiters);
      this.failures++;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.logger.error(`writing ${ids.length} sockets failed (attempt ${this.failures}), will retry: ${(error as Error).message}`);
      }
      return false;
    }
    if (this.failures > 0) {
      this.logger.log(`writes succeed again after ${this.failures} failed attempts`);
      this.failures = 0;
      if (!reconcile) this.requestReconcile();
    }
    for (const [id, value] of diff.next) {
      if (value) this.stored.set(id, storedOf(value));
      else this.stored.delete(id);
    }
    const { changes, deferred, channels } = written;
    try {
      await this.effects.apply(
        { at, changes, deferred, channels, connected: diff.connected, disconnected: diff.disconnected, counts },
        { reason: 'cleanup', instanceId: this.instance.id, users: diff.causes },
      );
    } catch (error) {
      this.logger.error(`acting on a flush failed: ${(error as Error).message}`, (error as Error).stack);
    }
    for (const resolve of waiters) resolve();
    return more;
  }

  /**
   * With an offline grace and channel presence: the memberships of the sockets that ended in this flush, which
   * the grace holds (a reload must not be a leave and a join). An unsubscribe of a socket that stays is not here.
   */
  private lingering(next: ReadonlyMap<string, SocketState | null>): Array<{ channel: string; userId: string }> | undefined {
    const watched = this.config.options.channelPresence;
    if (!watched || this.config.options.offlineGraceMs === 0) return undefined;
    const out: Array<{ channel: string; userId: string }> = [];
    for (const [id, value] of next) {
      const ended = value === null ? this.stored.get(id) : undefined;
      if (!ended || ended.userId === null) continue;
      for (const channel of ended.channels) if (watched.matches(channel)) out.push({ channel, userId: ended.userId });
    }
    return out;
  }

  /** What an open socket should look like in the table now; undefined once it has begun closing. */
  private liveState(id: string): SocketState | undefined {
    const live = this.sessions.get(id);
    if (!live) return undefined;
    const { userIdField, presenceChannel, storeAuthToken } = this.config.options;
    const token = live.socket.authToken;
    const { userId, problem } = userIdOf(token, userIdField);
    if (problem && token && !this.warnedTokens.has(token)) {
      this.warnedTokens.add(token);
      this.logger.warn(`socket ${id} is tracked as anonymous: ${problem}`);
    }
    return {
      socketId: id,
      userId,
      token,
      // Made again for each write rather than kept per socket: it is written only when the token or status changed.
      authToken: storeAuthToken ? tokenJsonOf(token) : null,
      ip: ipOf(live.socket),
      origin: originOf(live.socket),
      status: live.status,
      connectedAt: new Date(live.connectedAt),
      // A state set under another user (before a login or logout) is not this user's.
      state: live.state?.userId === userId ? live.state.json : null,
      channels: new Set(live.socket.subscriptions().filter((ch) => channelProblem(ch, presenceChannel) === null)),
    };
  }
}

/** The earlier of two times, either of which may be missing. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** The first `n` of `set`, in insertion order. */
function firstOf(set: ReadonlySet<string>, n: number): string[] {
  const out: string[] = [];
  for (const id of set) {
    if (out.length === n) break;
    out.push(id);
  }
  return out;
}

/** What is kept of a socket once it is stored (see StoredSocket); named, as in the diff's `row`. */
function storedOf({ socketId, userId, token, ip, origin, status, channels, state }: SocketState): StoredSocket {
  return { socketId, userId, token, ip, origin, status, channels, state };
}
