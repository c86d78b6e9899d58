import type { UserPresenceMessage, UserStatus, WatchedUser } from '../presence.types.js';

export type WatchedUsers = Readonly<Record<string, WatchedUser>>;

/**
 * What became of a message: `applied`, `ignored` (not watched, or older than what is known), `buffered` (an
 * answer is on its way), `mismatch` (applied, but it moved from a status the client did not have: one was missed,
 * so ask again after a short wait), `resync` (the buffer is full: ask again now).
 */
export type UserMessageOutcome = 'applied' | 'ignored' | 'buffered' | 'mismatch' | 'resync';

const STATUSES: readonly string[] = ['online', 'idle', 'offline'];

function isStatus(value: unknown): value is UserStatus {
  return typeof value === 'string' && STATUSES.includes(value);
}

function isTime(value: unknown): value is string {
  return typeof value === 'string' && Number.isFinite(Date.parse(value));
}

export function toUserPresenceMessage(value: unknown): UserPresenceMessage | null {
  const m = value as Partial<UserPresenceMessage> | null;
  if (typeof m !== 'object' || m === null || typeof m.userId !== 'string') return null;
  if (!isStatus(m.status) || !isStatus(m.previousStatus) || !isTime(m.at)) return null;
  if (m.lastSeen !== null && !isTime(m.lastSeen)) return null;
  return m as UserPresenceMessage;
}

/** The users of `ids` in an answer of `presence.users`; null when it does not have the shape. */
export function toWatchedUsers(value: unknown, ids: readonly string[]): Record<string, WatchedUser> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const answer = value as Record<string, Partial<WatchedUser> | undefined>;
  const users: Record<string, WatchedUser> = {};
  for (const id of ids) {
    const user = answer[id];
    if (!Object.prototype.hasOwnProperty.call(answer, id) || typeof user !== 'object' || user === null) return null;
    if (!isStatus(user.status) || (user.lastSeen !== null && !isTime(user.lastSeen))) return null;
    users[id] = { status: user.status, lastSeen: user.lastSeen ?? null };
  }
  return users;
}

/**
 * The statuses of a fixed list of users, kept from answers of `presence.users` and the transition messages.
 * Messages carry no sequence number, but each has the time of its transition: per user, one older than the
 * newest seen is late (two instances' messages crossed) and is dropped. Messages that arrive while an answer is
 * on its way are held and replayed over it, so an answer read before a transition does not undo it; one read
 * after is not changed by the replay, as each message carries the status it leads to. No I/O and no timers.
 */
export class UsersSync {
  private readonly users = new Map<string, WatchedUser>();
  /** Per user, the time of the newest transition seen (kept across answers). */
  private readonly newest = new Map<string, number>();
  private readonly watched: ReadonlySet<string>;
  private pending: UserPresenceMessage[] = [];
  private loading = false;
  private answered = false;

  constructor(
    ids: readonly string[],
    private readonly maxBuffered: number,
  ) {
    this.watched = new Set(ids);
  }

  get synced(): boolean {
    return this.answered;
  }

  fetching(): void {
    this.loading = true;
  }

  receive(message: UserPresenceMessage): UserMessageOutcome {
    if (!this.watched.has(message.userId)) return 'ignored';
    if (this.loading || !this.answered) {
      if (this.pending.length >= this.maxBuffered) {
        this.pending = [];
        return 'resync';
      }
      this.pending.push(message);
      return 'buffered';
    }
    return this.apply(message);
  }

  /**
   * Takes an answer (for some or all watched users) as the truth, then replays the held messages in the order
   * of their transitions (one the answer already holds may be replayed too: the last one leaves the status).
   */
  answer(users: Readonly<Record<string, WatchedUser>>): void {
    this.loading = false;
    this.answered = true;
    for (const [id, user] of Object.entries(users)) {
      if (this.watched.has(id)) this.users.set(id, { status: user.status, lastSeen: user.lastSeen });
    }
    const held = this.pending.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    this.pending = [];
    for (const message of held) this.apply(message);
  }

  view(): WatchedUsers {
    const view: Record<string, WatchedUser> = {};
    for (const [id, user] of this.users) view[id] = { ...user };
    return view;
  }

  private apply(message: UserPresenceMessage): UserMessageOutcome {
    const at = Date.parse(message.at);
    if (at < (this.newest.get(message.userId) ?? -Infinity)) return 'ignored';
    this.newest.set(message.userId, at);
    const known = this.users.get(message.userId);
    this.users.set(message.userId, { status: message.status, lastSeen: message.lastSeen });
    if (known && known.status !== message.status && known.status !== message.previousStatus) return 'mismatch';
    return known?.status === message.status && known.lastSeen === message.lastSeen ? 'ignored' : 'applied';
  }
}
