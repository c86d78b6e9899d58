import type { AGClientSocket } from 'socketcluster-client';
import { MEMBERS_PROCEDURE } from '../presence.constants.js';
import type { ChannelSnapshot } from '../presence.types.js';
import { ChannelSync, toChannelDiff, toChannelSnapshot, type ChannelView } from './channel.sync.js';
import { ChannelWatch, type SubscriptionRegistry } from './channel.watch.js';
import { MAX_RETRY_MS, SnapshotFollower } from './snapshot.follower.js';

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

/**
 * The members of one channel, kept in sync: subscribes to its diffs, takes a snapshot once the subscription is
 * accepted (and again after every reconnect, on a gap, and when the buffer is full), and hands out a new view
 * after the snapshot and after every diff it applies. Iterate it with `for await`; the last loop to end
 * (or `close()`) unsubscribes and stops everything it started.
 */
export class ChannelFollower extends SnapshotFollower<ChannelView, ChannelSnapshot> {
  private readonly sync: ChannelSync;
  private readonly watch: ChannelWatch;

  constructor(
    private readonly socket: AGClientSocket,
    registry: SubscriptionRegistry,
    readonly channel: string,
    options: ChannelFollowOptions,
    report: (error: Error) => void,
  ) {
    if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('channel() needs a channel name');
    const prefix = options.prefix ?? DEFAULT_CHANNEL_PRESENCE_PREFIX;
    if (typeof prefix !== 'string') throw new TypeError('prefix must be a string');
    super(report, options);
    this.sync = new ChannelSync(channel, options.maxBuffered ?? 1000);
    this.watch = new ChannelWatch(
      registry,
      prefix + channel,
      { data: (value) => this.received(value), subscribed: () => this.resync() },
      { waitForAuth: options.waitForAuth === true, retryMs: this.retryMs, maxRetryMs: MAX_RETRY_MS, report },
    );
    if (this.watch.subscribed) this.resync();
  }

  protected canAsk(): boolean {
    return this.watch.subscribed;
  }

  protected async ask(): Promise<ChannelSnapshot | undefined> {
    const snapshot = toChannelSnapshot(await this.socket.invoke(MEMBERS_PROCEDURE, this.channel), this.channel);
    if (!snapshot) this.report(new Error(`${MEMBERS_PROCEDURE} answered for ${this.channel} with something that is no snapshot`));
    return snapshot ?? undefined;
  }

  protected asking(): void {
    this.sync.fetching();
  }

  protected take(snapshot: ChannelSnapshot): boolean {
    const waiting = this.sync.snapshot(snapshot);
    this.stream.push(this.sync.view());
    return waiting;
  }

  protected get waiting(): boolean {
    return this.sync.waiting;
  }

  protected unwatch(): void {
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
    this.resubscribed();
    this.fetch();
  }
}
