import type { AGClientSocket } from 'socketcluster-client';
import { USERS_PROCEDURE } from '../presence.constants.js';
import { ChannelWatch, later, type SubscriptionRegistry } from './channel.watch.js';
import { MAX_RETRY_MS, positive, SnapshotFollower } from './snapshot.follower.js';
import { toUserPresenceMessage, toWatchedUsers, UsersSync, type WatchedUsers } from './users.sync.js';

/** The server's default `userPresence.prefix`. */
export const DEFAULT_USER_PRESENCE_PREFIX = 'presence:user:';

export interface UsersFollowOptions {
  /** The server's `userPresence.prefix`. Default `'presence:user:'`. */
  prefix?: string;
  /** Ids per `presence.users` request (the server's `userPresence.maxIds`). Default 100. */
  maxIdsPerRequest?: number;
  /** How long to wait after a message that skipped a transition before asking again. Default 500. */
  gapWaitMs?: number;
  /** Messages held at most while an answer is on its way; more means asking again. Default 1000. */
  maxBuffered?: number;
  /** First wait before asking again after a refusal; doubles up to 10 s. Default 500. */
  retryMs?: number;
}

/** Resubscriptions after a reconnect come one by one: one request once they are through, not one each. */
const SETTLE_MS = 20;

/** Unique, non-empty string ids, or a TypeError saying what is wrong. */
function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new TypeError('users() needs an array of user ids');
  const bad = ids.find((id) => typeof id !== 'string' || id.length === 0);
  if (bad !== undefined) throw new TypeError(`users() needs user ids as non-empty strings (got ${JSON.stringify(bad)})`);
  return [...new Set(ids as string[])];
}

/**
 * The statuses of a list of users, kept in sync: subscribes to each user's channel, asks `presence.users` once
 * every subscription is through (and again after a reconnect, and when a message shows one was missed), and
 * hands out a new `{ [userId]: { status, lastSeen } }` after each answer and each change. The last loop to end
 * (or `close()`) unsubscribes.
 */
export class UsersFollower extends SnapshotFollower<WatchedUsers, WatchedUsers> {
  readonly ids: readonly string[];
  private readonly sync: UsersSync;
  private readonly watches: ChannelWatch[] = [];
  private readonly perRequest: number;
  private cancelSettle?: () => void;

  constructor(
    private readonly socket: AGClientSocket,
    registry: SubscriptionRegistry,
    ids: readonly string[],
    options: UsersFollowOptions,
    report: (error: Error) => void,
  ) {
    const checked = checkIds(ids);
    const prefix = options.prefix ?? DEFAULT_USER_PRESENCE_PREFIX;
    if (typeof prefix !== 'string') throw new TypeError('prefix must be a string');
    super(report, options);
    this.ids = checked;
    this.perRequest = Math.floor(positive('maxIdsPerRequest', options.maxIdsPerRequest ?? 100));
    this.sync = new UsersSync(this.ids, Math.floor(positive('maxBuffered', options.maxBuffered ?? 1000)));
    for (const id of this.ids) {
      this.watches.push(
        new ChannelWatch(
          registry,
          prefix + id,
          { data: (value) => this.received(value), subscribed: () => this.resubscribedOne(), refused: () => this.refused() },
          // Watching needs a user: without waiting, an anonymous moment would be refused and retried.
          { waitForAuth: true, retryMs: this.retryMs, maxRetryMs: MAX_RETRY_MS, report },
        ),
      );
    }
    if (this.ids.length === 0) this.stream.push({});
    else if (this.watches.some((watch) => watch.subscribed)) this.resubscribedOne();
  }

  /** Only users whose messages arrive are asked for: one refused (canWatch) is left out, not the whole request. */
  protected canAsk(): boolean {
    return this.watches.some((watch) => watch.subscribed);
  }

  protected async ask(): Promise<WatchedUsers | undefined> {
    const ids = this.ids.filter((_, i) => this.watches[i]!.subscribed);
    const parts: string[][] = [];
    for (let i = 0; i < ids.length; i += this.perRequest) parts.push(ids.slice(i, i + this.perRequest));
    const answers = await Promise.all(parts.map(async (part) => ({ part, answer: (await this.socket.invoke(USERS_PROCEDURE, part)) as unknown })));
    const users: WatchedUsers = {};
    for (const { part, answer } of answers) {
      const some = toWatchedUsers(answer, part);
      if (!some) {
        this.report(new Error(`${USERS_PROCEDURE} answered with something that is not the status of each user asked`));
        return undefined;
      }
      Object.assign(users, some);
    }
    return users;
  }

  protected asking(): void {
    this.sync.fetching();
  }

  protected take(users: WatchedUsers): boolean {
    this.sync.answer(users);
    this.stream.push(this.sync.view());
    return false;
  }

  /** The gap wait starts only on a message that skipped a transition, and then asks in any case. */
  protected get waiting(): boolean {
    return true;
  }

  protected unwatch(): void {
    for (const watch of this.watches) watch.close();
  }

  protected override stopped(): void {
    this.cancelSettle?.();
  }

  private received(value: unknown): void {
    if (this.closed) return;
    const message = toUserPresenceMessage(value);
    if (!message) return;
    switch (this.sync.receive(message)) {
      case 'applied':
        this.stream.push(this.sync.view());
        return;
      case 'mismatch':
        this.stream.push(this.sync.view());
        this.startGapWait();
        return;
      case 'resync':
        this.fetch();
        return;
      default:
        return;
    }
  }

  /** A subscription was (re)accepted: what was published before it may be missed, so ask again. */
  private resubscribedOne(): void {
    this.resubscribed();
    this.settle();
  }

  /** Until the first answer, a refusal may be what the request waits for; after it, nothing changed. */
  private refused(): void {
    if (!this.sync.synced) this.settle();
  }

  /** Asks once every subscription is answered (accepted or refused), not once per resubscription. */
  private settle(): void {
    this.cancelSettle?.();
    this.cancelSettle = later(() => {
      this.cancelSettle = undefined;
      if (this.watches.every((watch) => watch.settled)) this.fetch();
    }, SETTLE_MS);
  }
}
