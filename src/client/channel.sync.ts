import type { ChannelDiff, ChannelSnapshot, Member } from '../presence.types.js';

/** What `presenceClient.channel()` yields: the members of a channel as of diff `seq`, sorted by user id. */
export interface ChannelView {
  readonly channel: string;
  readonly seq: number;
  readonly members: readonly Member[];
}

/**
 * What became of a received diff:
 * - `applied`: the view moved on (possibly over diffs buffered before it);
 * - `ignored`: already in the view (a duplicate, or older than the snapshot);
 * - `buffered`: kept until a snapshot arrives;
 * - `gap`: kept, but a diff before it is missing; wait a little for it, then take a snapshot;
 * - `resync`: the buffer is full, or the channel's numbering started over: take a snapshot now.
 */
export type DiffOutcome = 'applied' | 'ignored' | 'buffered' | 'gap' | 'resync';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A member as published; `states` (session state) is checked when there, as servers without it send none. */
function isMember(value: unknown): value is Member {
  const m = value as (Partial<Member> & { states?: unknown }) | null;
  if (!isPlainObject(m) || typeof m.userId !== 'string' || (m.status !== 'online' && m.status !== 'idle')) return false;
  return m.states === undefined || (Array.isArray(m.states) && m.states.every(isPlainObject));
}

function isMemberList(value: unknown): value is Member[] {
  return Array.isArray(value) && value.every(isMember);
}

/** A published diff of `channel`, or null for anything else (nothing else is trusted to have the shape). */
export function toChannelDiff(value: unknown, channel: string): ChannelDiff | null {
  const d = value as Partial<ChannelDiff> | null;
  if (typeof d !== 'object' || d === null || d.channel !== channel) return null;
  if (typeof d.seq !== 'number' || !Number.isSafeInteger(d.seq) || d.seq < 1) return null;
  if (!isMemberList(d.joins) || !isMemberList(d.leaves) || !isMemberList(d.updates)) return null;
  return d as ChannelDiff;
}

/** The answer to `presence.members` for `channel`, or null when it does not have the shape. */
export function toChannelSnapshot(value: unknown, channel: string): ChannelSnapshot | null {
  const s = value as Partial<ChannelSnapshot> | null;
  if (typeof s !== 'object' || s === null || s.channel !== channel) return null;
  if (typeof s.seq !== 'number' || !Number.isSafeInteger(s.seq) || s.seq < 0 || !isMemberList(s.members)) return null;
  return s as ChannelSnapshot;
}

/** Same order as the server's snapshot: by user id, code unit by code unit. */
function byUserId(a: Member, b: Member): number {
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/**
 * The members of one channel, kept from a snapshot and the numbered diffs after it. No I/O and no timers: the
 * caller fetches snapshots and keeps time, and is told by each outcome what to do. Diffs are buffered while
 * there is no snapshot (or a new one is on its way) and while one before them is missing; the buffer holds at
 * most `maxBuffered` diffs, beyond which it is dropped and a snapshot asked for, so memory stays bounded.
 */
export class ChannelSync {
  private members = new Map<string, Member>();
  /** The seq of the view; null until the first snapshot. */
  private seq: number | null = null;
  private readonly pending = new Map<number, ChannelDiff>();
  private loading = false;

  constructor(
    readonly channel: string,
    private readonly maxBuffered: number,
  ) {
    if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 1) {
      throw new TypeError(`maxBuffered must be a positive integer (got ${String(maxBuffered)})`);
    }
  }

  /** Whether there is a view yet (a first snapshot arrived). */
  get synced(): boolean {
    return this.seq !== null;
  }

  /** Whether diffs wait for a missing one: after a short wait for it, a snapshot is needed. */
  get waiting(): boolean {
    return this.seq !== null && !this.loading && this.pending.size > 0;
  }

  /** How many diffs are held. */
  get buffered(): number {
    return this.pending.size;
  }

  /** A snapshot is on its way: from now on diffs are only buffered, until it arrives. */
  fetching(): void {
    this.loading = true;
  }

  receive(diff: ChannelDiff): DiffOutcome {
    if (this.seq !== null && !this.loading) {
      if (diff.seq <= this.seq) {
        // A seq of 1 below the view's is not a late copy: the server forgot the channel (nobody in it for its
        // retention) and numbers it from the start again.
        return diff.seq === 1 && this.seq > 1 && !this.pending.has(1) ? 'resync' : 'ignored';
      }
      if (diff.seq === this.seq + 1) {
        this.apply(diff);
        this.drain();
        return 'applied';
      }
    }
    if (this.pending.has(diff.seq)) return 'ignored';
    if (this.pending.size >= this.maxBuffered) {
      this.pending.clear();
      return 'resync';
    }
    this.pending.set(diff.seq, diff);
    return this.seq !== null && !this.loading ? 'gap' : 'buffered';
  }

  /**
   * Takes a snapshot as the truth, then applies the buffered diffs that follow it. Returns whether diffs are
   * still held behind a missing one (then wait a little, and take another snapshot).
   */
  snapshot(snapshot: ChannelSnapshot): boolean {
    this.loading = false;
    this.members = new Map(snapshot.members.map((m) => [m.userId, m]));
    this.seq = snapshot.seq;
    for (const seq of this.pending.keys()) if (seq <= snapshot.seq) this.pending.delete(seq);
    this.drain();
    return this.pending.size > 0;
  }

  /** The current view (a new object each time, so a value handed out never changes). */
  view(): ChannelView {
    return { channel: this.channel, seq: this.seq ?? 0, members: [...this.members.values()].sort(byUserId) };
  }

  private drain(): void {
    for (let next = this.pending.get(this.seq! + 1); next; next = this.pending.get(this.seq! + 1)) {
      this.pending.delete(next.seq);
      this.apply(next);
    }
  }

  private apply(diff: ChannelDiff): void {
    for (const m of diff.leaves) this.members.delete(m.userId);
    for (const m of diff.joins) this.members.set(m.userId, m);
    for (const m of diff.updates) this.members.set(m.userId, m);
    this.seq = diff.seq;
  }
}
