import type { AGClientSocket } from 'socketcluster-client';
import { MEMBERS_PROCEDURE } from '../presence.constants.js';
import { ChannelSync, toChannelDiff, toChannelSnapshot, type ChannelView } from './channel.sync.js';
import { ChannelWatch, later, toError, type SubscriptionRegistry } from './channel.watch.js';
import { LatestStream } from './latest.stream.js';

export interface ChannelFollowOptions {
  /** The server's `channelPresence.prefix`. Default `'presence:'`. */
  prefix?: string;
  /** How long diffs behind a missing one wait for it (diffs of two instances may cross) before a new snapshot. Default 500. */
  gapWaitMs?: number;
  /** Diffs held at most while a snapshot is on its way or one is missing; more means a new snapshot. Default 1000. */
  maxBuffered?: number;
  /** Subscribe only once the socket is authenticated (socketcluster-client's `waitForAuth`). Default `false`. */
  waitForAuth?: boolean;
  /** First wait before asking again after a refused subscription or snapshot; doubles up to 10 s. Default 500. */
  retryMs?: number;
}

export const DEFAULT_CHANNEL_PRESENCE_PREFIX = 'presence:';
const MAX_RETRY_MS = 10_000;

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number (got ${String(value)})`);
  }
  return value;
}

/**
 * The members of one channel, kept in sync: subscribes to its diffs, takes a snapshot once the subscription is
 * accepted (and again after every reconnect, on a gap, and when the buffer is full), and hands out a new view
 * after the snapshot and after every diff it applies. Iterate it with `for await`; the last loop to end
 * (or `close()`) unsubscribes and stops everything it started.
 */
export class ChannelFollower implements AsyncIterable<ChannelView> {
  private readonly sync: ChannelSync;
  private readonly stream: LatestStream<ChannelView>;
  private readonly watch: ChannelWatch;
  private readonly gapWaitMs: number;
  private readonly retryMs: number;
  /** Bumped at every accepted subscription: a snapshot asked for before it may miss diffs sent in between. */
  private epoch = 0;
  private loading = false;
  private again = false;
  private cancelGapWait?: () => void;
  private cancelRetry?: () => void;
  private retryWait: number;

  constructor(
    private readonly socket: AGClientSocket,
    registry: SubscriptionRegistry,
    readonly channel: string,
    options: ChannelFollowOptions,
    private readonly report: (error: Error) => void,
  ) {
    if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('channel() needs a channel name');
    const prefix = options.prefix ?? DEFAULT_CHANNEL_PRESENCE_PREFIX;
    if (typeof prefix !== 'string') throw new TypeError('prefix must be a string');
    this.gapWaitMs = positive('gapWaitMs', options.gapWaitMs ?? 500);
    this.retryMs = this.retryWait = positive('retryMs', options.retryMs ?? 500);
    this.sync = new ChannelSync(channel, options.maxBuffered ?? 1000);
    this.stream = new LatestStream(() => this.close());
    this.watch = new ChannelWatch(
      registry,
      prefix + channel,
      { data: (value) => this.received(value), subscribed: () => this.resync() },
      { waitForAuth: options.waitForAuth === true, retryMs: this.retryMs, maxRetryMs: MAX_RETRY_MS, report },
    );
    if (this.watch.subscribed) this.resync();
  }

  /** The newest view, or undefined until the first snapshot arrived. */
  get latest(): ChannelView | undefined {
    return this.stream.latest;
  }

  get closed(): boolean {
    return this.stream.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<ChannelView> {
    return this.stream[Symbol.asyncIterator]();
  }

  /** Unsubscribes and ends every loop over this follower. */
  close(): void {
    if (this.stream.closed) return;
    this.stream.end();
    this.cancelGapWait?.();
    this.cancelRetry?.();
    this.watch.close();
  }

  private received(value: unknown): void {
    if (this.closed) return;
    const diff = toChannelDiff(value, this.channel);
    if (!diff) return;
    switch (this.sync.receive(diff)) {
      case 'applied':
        this.stream.push(this.sync.view());
        if (!this.sync.waiting) this.stopGapWait();
        return;
      case 'gap':
        this.startGapWait();
        return;
      case 'resync':
        this.fetch();
        return;
      default:
        return;
    }
  }

  /** A (re)subscription: whatever was sent before it may be missed, so a snapshot from after it is needed. */
  private resync(): void {
    this.epoch += 1;
    this.retryWait = this.retryMs;
    this.fetch();
  }

  private fetch(): void {
    // Not subscribed (disconnected, refused): the next accepted subscription asks.
    if (this.closed || !this.watch.subscribed) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    this.again = false;
    this.stopGapWait();
    this.cancelRetry?.();
    this.sync.fetching();
    const epoch = this.epoch;
    this.socket.invoke(MEMBERS_PROCEDURE, this.channel).then(
      (answer: unknown) => {
        this.loading = false;
        if (this.closed) return;
        const snapshot = toChannelSnapshot(answer, this.channel);
        if (!snapshot) {
          this.report(new Error(`${MEMBERS_PROCEDURE} answered for ${this.channel} with something that is no snapshot`));
          return this.retryLater();
        }
        // Taken before the latest (re)subscription: diffs published in between may never arrive.
        if (epoch !== this.epoch) this.again = true;
        if (this.again) return this.fetch();
        this.retryWait = this.retryMs;
        const waiting = this.sync.snapshot(snapshot);
        this.stream.push(this.sync.view());
        if (waiting) this.startGapWait();
      },
      (error: unknown) => {
        this.loading = false;
        if (this.closed) return;
        const err = toError(error);
        // Cut by a disconnect: the subscription is renewed on reconnect, and that asks again.
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
      if (this.watch.subscribed) this.fetch();
    }, wait);
  }

  private startGapWait(): void {
    if (this.cancelGapWait) return;
    this.cancelGapWait = later(() => {
      this.cancelGapWait = undefined;
      if (this.sync.waiting) this.fetch();
    }, this.gapWaitMs);
  }

  private stopGapWait(): void {
    this.cancelGapWait?.();
    this.cancelGapWait = undefined;
  }
}
