import { later, toError } from './channel.watch.js';
import { LatestStream } from './latest.stream.js';

export const MAX_RETRY_MS = 10_000;

export function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number (got ${String(value)})`);
  }
  return value;
}

/**
 * What the channel and the users followers share: a current answer asked for with an invoke, changes applied
 * on top, and the rules of asking again. An answer asked for before the latest (re)subscription is thrown away
 * (what was published in between may never arrive); a refused or malformed answer is asked again with
 * backoff; a disconnect asks again on the next accepted subscription; a missing change waits `gapWaitMs`.
 */
export abstract class SnapshotFollower<View, Answer> implements AsyncIterable<View> {
  protected readonly stream: LatestStream<View>;
  protected readonly gapWaitMs: number;
  protected readonly retryMs: number;
  /** Bumped at every accepted subscription: an answer asked for before it may miss changes sent in between. */
  private epoch = 0;
  private loading = false;
  private again = false;
  private retryWait: number;
  private cancelGapWait?: () => void;
  private cancelRetry?: () => void;

  protected constructor(
    protected readonly report: (error: Error) => void,
    options: { gapWaitMs?: number; retryMs?: number },
  ) {
    this.gapWaitMs = positive('gapWaitMs', options.gapWaitMs ?? 500);
    this.retryMs = this.retryWait = positive('retryMs', options.retryMs ?? 500);
    this.stream = new LatestStream(() => this.close());
  }

  /** Whether an answer can be asked for now (subscribed); if not, the next accepted subscription asks. */
  protected abstract canAsk(): boolean;
  /** Asks for the current answer; resolves undefined (after reporting) for an answer of the wrong shape. */
  protected abstract ask(): Promise<Answer | undefined>;
  /** Takes an answer asked for after the latest subscription; returns whether changes wait for a missing one. */
  protected abstract take(answer: Answer): boolean;
  /** Marks the changes that arrive from now on as belonging after the coming answer. */
  protected abstract asking(): void;
  /** Ends the subscriptions. */
  protected abstract unwatch(): void;
  /** Whether changes still wait for a missing one (a gap wait that ends with nothing missing asks nothing). */
  protected abstract get waiting(): boolean;

  /** The newest value, or undefined until the first answer arrived. */
  get latest(): View | undefined {
    return this.stream.latest;
  }

  get closed(): boolean {
    return this.stream.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<View> {
    return this.stream[Symbol.asyncIterator]();
  }

  /** Unsubscribes and ends every loop over this follower. */
  close(): void {
    if (this.stream.closed) return;
    this.stream.end();
    this.cancelGapWait?.();
    this.cancelRetry?.();
    this.stopped();
    this.unwatch();
  }

  /** Timers of a subclass, cancelled on close. */
  protected stopped(): void {}

  /** A subscription was (re)accepted: what was published before it may be missed. */
  protected resubscribed(): void {
    this.epoch += 1;
    this.retryWait = this.retryMs;
  }

  protected fetch(): void {
    if (this.closed || !this.canAsk()) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    this.again = false;
    this.stopGapWait();
    this.cancelRetry?.();
    this.asking();
    const epoch = this.epoch;
    this.ask().then(
      (answer) => {
        this.loading = false;
        if (this.closed) return;
        if (answer === undefined) return this.retryLater();
        if (epoch !== this.epoch) this.again = true;
        if (this.again) return this.fetch();
        this.retryWait = this.retryMs;
        if (this.take(answer)) this.startGapWait();
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

  /** Asks again after `gapWaitMs` unless what was missing arrived meanwhile. */
  protected startGapWait(): void {
    if (this.cancelGapWait) return;
    this.cancelGapWait = later(() => {
      this.cancelGapWait = undefined;
      if (this.waiting) this.fetch();
    }, this.gapWaitMs);
  }

  protected stopGapWait(): void {
    this.cancelGapWait?.();
    this.cancelGapWait = undefined;
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
