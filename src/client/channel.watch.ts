import type { AGClientSocket } from 'socketcluster-client';

type Channel = ReturnType<AGClientSocket['subscribe']>;

/** What `createConsumer()` returns at runtime; the published typings leave out its `id`. */
export interface StreamConsumer<T> {
  readonly id: number;
  next(): Promise<IteratorResult<T>>;
}

/** Reads a stream with a consumer of its own, until the consumer is killed or the stream closes. */
export function consume<T>(consumer: StreamConsumer<T>, handle: (value: T) => void, report: (error: Error) => void): void {
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await consumer.next();
        if (done) return;
        try {
          handle(value);
        } catch (error) {
          report(toError(error));
        }
      }
    } catch (error) {
      report(toError(error));
    }
  })();
}

export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Timers looked up at each call (fake timers installed later apply), never keeping a Node process alive. */
export function later(callback: () => void, ms: number): () => void {
  const handle = globalThis.setTimeout(callback, ms) as unknown as { unref?: () => void };
  if (typeof handle === 'object' && handle !== null && typeof handle.unref === 'function') handle.unref();
  return () => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
}

/**
 * The subscriptions the helper holds, counted per channel name: two followers of the same room share one
 * subscription, and the last to leave unsubscribes. A channel the app had subscribed to itself before is left
 * subscribed.
 */
export class SubscriptionRegistry {
  private readonly held = new Map<string, { count: number; owned: boolean }>();

  constructor(private readonly socket: AGClientSocket) {}

  acquire(name: string, waitForAuth: boolean): Channel {
    const entry = this.held.get(name);
    if (entry) entry.count += 1;
    else this.held.set(name, { count: 1, owned: !this.socket.isSubscribed(name, true) });
    return this.socket.subscribe(name, this.subscribeOptions(waitForAuth));
  }

  /**
   * After a reconnect the client renews subscriptions highest priority first: ours come after the app's, so
   * the room itself is subscribed again before its presence is asked for (which needs the room by default).
   */
  private subscribeOptions(waitForAuth: boolean) {
    return { waitForAuth, priority: -1 };
  }

  /** Asks again after a refusal or a kick-out (the socket forgets a channel it was refused). */
  retry(name: string, waitForAuth: boolean): void {
    if (this.held.has(name) && !this.socket.isSubscribed(name, true)) this.socket.subscribe(name, this.subscribeOptions(waitForAuth));
  }

  release(name: string): void {
    const entry = this.held.get(name);
    if (!entry || --entry.count > 0) return;
    this.held.delete(name);
    if (entry.owned) this.socket.unsubscribe(name);
  }
}

export interface WatchOptions {
  waitForAuth: boolean;
  /** First wait before subscribing again after a refusal; doubles up to `maxRetryMs`. */
  retryMs: number;
  maxRetryMs: number;
  report: (error: Error) => void;
}

export interface WatchHandlers {
  /** Something was published on the channel (not validated). */
  data(value: unknown): void;
  /** The subscription was accepted: at first, and again after every reconnect or retry. */
  subscribed(): void;
  /** The subscription was refused or kicked out (it is asked for again later). */
  refused?(): void;
}

/**
 * One channel followed for as long as needed: its messages, each (re)subscription, and a refusal or kick-out
 * answered by asking again later (the app may subscribe to the room itself a moment after, or the presence
 * subscription may reach the server before the room's after a reconnect). A refusal is reported once per run
 * of failures, not at every retry.
 */
export class ChannelWatch {
  private readonly channel: Channel;
  private readonly consumers: Array<() => void> = [];
  private cancelRetry?: () => void;
  private retryMs: number;
  private failing = false;
  private closed = false;

  constructor(
    private readonly registry: SubscriptionRegistry,
    readonly name: string,
    private readonly handlers: WatchHandlers,
    private readonly options: WatchOptions,
  ) {
    this.retryMs = options.retryMs;
    this.channel = registry.acquire(name, options.waitForAuth);
    const channel = this.channel;
    // Consumers of our own, killed on close: the app's consumers of the same channel go on.
    const data = channel.createConsumer() as unknown as StreamConsumer<unknown>;
    this.consumers.push(() => channel.killOutputConsumer(data.id));
    consume(data, (value) => handlers.data(value), options.report);
    this.listen('subscribe', () => this.accepted());
    this.listen<{ error: Error }>('subscribeFail', ({ error }) => this.refused(error));
    this.listen<{ message?: string }>('kickOut', ({ message }) => this.refused(new Error(message || `kicked out of ${name}`)));
  }

  /** Whether the server has accepted the subscription (on the current connection). */
  get subscribed(): boolean {
    return this.channel.state === 'subscribed';
  }

  /** Whether the server answered the latest request for the subscription: accepted it, or refused it. */
  get settled(): boolean {
    return this.subscribed || this.failing;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelRetry?.();
    for (const kill of this.consumers.splice(0)) kill();
    this.registry.release(this.name);
  }

  private listen<T>(event: string, handle: (value: T) => void): void {
    const consumer = this.channel.listener(event).createConsumer() as unknown as StreamConsumer<T>;
    this.consumers.push(() => this.channel.killListenerConsumer(consumer.id));
    consume(consumer, handle, this.options.report);
  }

  private accepted(): void {
    if (this.closed) return;
    this.failing = false;
    this.retryMs = this.options.retryMs;
    this.handlers.subscribed();
  }

  private refused(error: Error): void {
    if (this.closed) return;
    if (!this.failing) this.options.report(error);
    this.failing = true;
    this.cancelRetry?.();
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.options.maxRetryMs);
    this.cancelRetry = later(() => {
      this.cancelRetry = undefined;
      if (!this.closed) this.registry.retry(this.name, this.options.waitForAuth);
    }, wait);
    this.handlers.refused?.();
  }
}
