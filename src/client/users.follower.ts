import type { AGClientSocket } from 'socketcluster-client';
import { USERS_PROCEDURE } from '../presence.constants.js';
import { ChannelWatch, later, toError, type SubscriptionRegistry } from './channel.watch.js';
import { LatestStream } from './latest.stream.js';
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

const MAX_RETRY_MS = 10_000;
/** Resubscriptions after a reconnect come one by one: one request once they are through, not one each. */
const SETTLE_MS = 20;

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number (got ${String(value)})`);
  }
  return value;
}

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
export class UsersFollower implements AsyncIterable<WatchedUsers> {
  readonly ids: readonly string[];
  private readonly sync: UsersSync;
  private readonly stream: LatestStream<WatchedUsers>;
  private readonly watches: ChannelWatch[] = [];
  private readonly gapWaitMs: number;
  private readonly retryMs: number;
  private readonly perRequest: number;
  private epoch = 0;
  private loading = false;
  private again = false;
  private retryWait: number;
  private cancelSettle?: () => void;
  private cancelGapWait?: () => void;
  private cancelRetry?: () => void;

  constructor(
    private readonly socket: AGClientSocket,
    registry: SubscriptionRegistry,
    ids: readonly string[],
    options: UsersFollowOptions,
    private readonly report: (error: Error) => void,
  ) {
    this.ids = checkIds(ids);
    const prefix = options.prefix ?? DEFAULT_USER_PRESENCE_PREFIX;
    if (typeof prefix !== 'string') throw new TypeError('prefix must be a string');
    this.gapWaitMs = positive('gapWaitMs', options.gapWaitMs ?? 500);
    this.retryMs = this.retryWait = positive('retryMs', options.retryMs ?? 500);
    this.perRequest = Math.floor(positive('maxIdsPerRequest', options.maxIdsPerRequest ?? 100));
    this.sync = new UsersSync(this.ids, Math.floor(positive('maxBuffered', options.maxBuffered ?? 1000)));
    this.stream = new LatestStream(() => this.close());
    for (const id of this.ids) {
      this.watches.push(
        new ChannelWatch(
          registry,
          prefix + id,
          { data: (value) => this.received(value), subscribed: () => this.resubscribed(), refused: () => this.refused() },
          // Watching needs a user: without waiting, an anonymous moment would be refused and retried.
          { waitForAuth: true, retryMs: this.retryMs, maxRetryMs: MAX_RETRY_MS, report },
        ),
      );
    }
    if (this.ids.length === 0) this.stream.push({});
    else if (this.watches.some((watch) => watch.subscribed)) this.resubscribed();
  }

  get latest(): WatchedUsers | undefined {
    return this.stream.latest;
  }

  get closed(): boolean {
    return this.stream.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchedUsers> {
    return this.stream[Symbol.asyncIterator]();
  }

  close(): void {
    if (this.stream.closed) return;
    this.stream.end();
    for (const cancel of [this.cancelSettle, this.cancelGapWait, this.cancelRetry]) cancel?.();
    for (const watch of this.watches) watch.close();
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
        if (!this.cancelGapWait) {
          this.cancelGapWait = later(() => {
            this.cancelGapWait = undefined;
            this.fetch();
          }, this.gapWaitMs);
        }
        return;
      case 'resync':
        this.fetch();
        return;
      default:
        return;
    }
  }

  /** A subscription was (re)accepted: what was published before it may be missed, so ask again. */
  private resubscribed(): void {
    this.epoch += 1;
    this.retryWait = this.retryMs;
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

  private fetch(): void {
    if (this.closed) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    // Only users whose messages arrive: one refused (canWatch) is left out, not the whole request.
    const ids = this.ids.filter((_, i) => this.watches[i]!.subscribed);
    if (ids.length === 0) return;
    this.loading = true;
    this.again = false;
    this.cancelRetry?.();
    this.sync.fetching();
    const epoch = this.epoch;
    const parts: string[][] = [];
    for (let i = 0; i < ids.length; i += this.perRequest) parts.push(ids.slice(i, i + this.perRequest));
    Promise.all(parts.map((part) => this.socket.invoke(USERS_PROCEDURE, part).then((answer: unknown) => ({ part, answer })))).then(
      (answers) => {
        this.loading = false;
        if (this.closed) return;
        const users = {};
        for (const { part, answer } of answers) {
          const some = toWatchedUsers(answer, part);
          if (!some) {
            this.report(new Error(`${USERS_PROCEDURE} answered with something that is not the status of each user asked`));
            return this.retryLater();
          }
          Object.assign(users, some);
        }
        if (epoch !== this.epoch) this.again = true;
        if (this.again) return this.fetch();
        this.retryWait = this.retryMs;
        this.sync.answer(users);
        this.stream.push(this.sync.view());
      },
      (error: unknown) => {
        this.loading = false;
        if (this.closed) return;
        const err = toError(error);
        if (err.name === 'BadConnectionError') return;
        this.report(err);
        this.retryLater();
      },
    );
  }

  private retryLater(): void {
    const wait = this.retryWait;
    this.retryWait = Math.min(this.retryWait * 2, MAX_RETRY_MS);
    this.cancelRetry?.();
    this.cancelRetry = later(() => {
      this.cancelRetry = undefined;
      this.fetch();
    }, wait);
  }
}
