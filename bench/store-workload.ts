/**
 * Simulated instances for the store capacity bench: each holds its sessions in memory, turns joins, leaves,
 * status and channel changes into the `WriteBatch` its writer would send, and flushes it through
 * `PresenceStore.write` like the writer does (one flush in flight per instance).
 */
import type { PresenceStore } from '../src/store/presence.store.js';
import type { SessionStatus, WriteBatch } from '../src/presence.types.js';

interface SimSession {
  socketId: string;
  userId: string;
  status: SessionStatus;
  channels: string[];
  connectedAt: Date;
}

/** A change waiting for its flush: when it was made, for the flush latency. */
interface Pending {
  batch: WriteBatch;
  users: Set<string>;
  since: number[];
}

export const CHANNELS_PER_SESSION = 2;
const CHANNEL_POOL = 200;

export class SimInstance {
  readonly sessions = new Map<string, SimSession>();
  private pending: Pending = SimInstance.empty();
  /** A flush that failed (deadlocked past the store's retries): written again before anything newer, as the writer does. */
  private failed?: Pending;
  private inFlight?: Promise<void>;
  private next = 0;
  /** Max latency of each flush (ms from the oldest change in it to its commit), and changes written. */
  readonly flushes: number[] = [];
  written = 0;
  /** Flushes that failed and went again. */
  failures = 0;

  constructor(
    readonly id: string,
    private readonly store: PresenceStore,
  ) {}

  private static empty(): Pending {
    return { batch: { upserts: [], removedSockets: [], removedChannels: [] }, users: new Set(), since: [] };
  }

  get backlog(): number {
    return this.pending.since.length + (this.failed?.since.length ?? 0);
  }

  private upsert(s: SimSession, presence: boolean, channels: string[]): void {
    const socket = { socketId: s.socketId, userId: s.userId, authToken: null, ip: '127.0.0.1', origin: null, status: s.status, connectedAt: s.connectedAt, state: null };
    this.pending.batch.upserts.push({ socket, presence, channels });
  }

  private mark(userId: string | undefined): void {
    if (userId !== undefined) this.pending.users.add(userId);
    this.pending.since.push(performance.now());
  }

  join(): void {
    const n = this.next++;
    const channels = Array.from({ length: CHANNELS_PER_SESSION }, (_, i) => `room-${(n + i * 7) % CHANNEL_POOL}`);
    const s: SimSession = { socketId: `${this.id}/${n}`, userId: `u-${this.id}-${n}`, status: 'online', channels, connectedAt: new Date() };
    this.sessions.set(s.socketId, s);
    this.upsert(s, true, channels);
    this.mark(s.userId);
  }

  /** The oldest session: a Map keeps insertion order. */
  private oldest(): SimSession | undefined {
    return this.sessions.values().next().value;
  }

  leave(): void {
    const s = this.oldest();
    if (!s) return this.join();
    this.sessions.delete(s.socketId);
    this.pending.batch.removedSockets.push(s.socketId);
    this.mark(s.userId);
  }

  /** online ⇄ idle: the writer sets the status on every row of the socket (WriteBatch.statusChanges). */
  toggleStatus(): void {
    const s = this.oldest();
    if (!s) return this.join();
    s.status = s.status === 'online' ? 'idle' : 'online';
    // Moved to the end, so that the next change takes another session.
    this.sessions.delete(s.socketId);
    this.sessions.set(s.socketId, s);
    (this.pending.batch.statusChanges ??= []).push({ socketId: s.socketId, status: s.status });
    this.mark(s.userId);
  }

  /** Leaves one channel and joins another (no user status can change: no user to decide). */
  moveChannel(): void {
    const s = this.oldest();
    if (!s) return this.join();
    const from = s.channels.shift()!;
    const to = `room-${(Number(from.slice(5)) + 1) % CHANNEL_POOL}`;
    s.channels.push(to);
    this.sessions.delete(s.socketId);
    this.sessions.set(s.socketId, s);
    this.pending.batch.removedChannels.push({ socketId: s.socketId, channel: from });
    this.upsert(s, false, [to]);
    this.mark(undefined);
  }

  /** One change of the mix: 25 % join, 25 % leave, 30 % status, 20 % channel. */
  change(r: number): void {
    if (r < 0.25) this.join();
    else if (r < 0.5) this.leave();
    else if (r < 0.8) this.toggleStatus();
    else this.moveChannel();
  }

  /** Starts a flush unless one is in flight or nothing is pending. */
  flush(): Promise<void> {
    if (this.inFlight || this.backlog === 0) return this.inFlight ?? Promise.resolve();
    const next = this.failed ?? this.pending;
    if (next === this.pending) this.pending = SimInstance.empty();
    this.failed = undefined;
    const { batch, users, since } = next;
    this.inFlight = this.store
      .write(batch, this.id, new Date(), { users, deferOffline: false })
      .then(
        () => {
          this.flushes.push(performance.now() - since[0]);
          this.written += since.length;
        },
        () => {
          this.failures++;
          this.failed = next;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  /** Writes everything pending, flush after flush. */
  async drain(): Promise<void> {
    while (this.inFlight || this.backlog > 0) await this.flush();
  }
}
