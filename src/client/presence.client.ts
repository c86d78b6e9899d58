import type { AGClientSocket } from 'socketcluster-client';
import { SET_STATUS_PROCEDURE } from '../presence.constants.js';
import {
  IdleMonitor, type DocumentLike, type EventTargetLike, type IdleClock, type PresenceClientStatus,
} from './idle.monitor.js';

/** The server's default `usercount.channel`. */
export const DEFAULT_USERCOUNT_CHANNEL = 'USERCOUNT';

export interface PresenceClientOptions {
  /** Follow input and tab visibility to go idle and back online. Default `true`; off anyway without a DOM. */
  idleMonitor?: boolean;
  /** No keyboard, pointer, touch or wheel input for this long means idle. Default 60000. */
  idleAfterMs?: number;
  /** Where input events are listened for. Default: `window`. */
  target?: EventTargetLike | null;
  /** Whose visibility is followed (hidden tab = idle). Default: the global `document`. */
  document?: DocumentLike | null;
  /** Time source and timers of the idle monitor. Default: `Date.now` and the global timers. */
  clock?: IdleClock;
  /**
   * Receives what fails in the background (a re-send after reconnect, a send decided by the idle monitor), which
   * no caller could catch. Default: `console.warn`.
   */
  onError?: (error: Error) => void;
  /** Called when the wanted status changes, by the idle monitor or by setIdle() / setOnline(). */
  onStatusChange?: (status: PresenceClientStatus) => void;
}

type Channel = ReturnType<AGClientSocket['subscribe']>;

/** What `createConsumer()` returns at runtime; the published typings leave out its `id`. */
interface StreamConsumer<T> {
  readonly id: number;
  next(): Promise<IteratorResult<T>>;
}

interface SentStatus {
  socketId: string | null;
  status: PresenceClientStatus;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function defaultOnError(error: Error): void {
  console.warn(`nestjs-sc-presence/client: ${error.name}: ${error.message}`);
}

/** The socket methods the helper uses; socketcluster-client 14 and older (protocol 1) have none of the first three. */
const SOCKET_METHODS = ['listener', 'invoke', 'killListenerConsumer', 'subscribe'] as const;

/** Fails at once, with what to do, on a socket this helper cannot drive (instead of a TypeError later). */
function assertDrivableSocket(socket: unknown): void {
  const missing = SOCKET_METHODS.filter((name) => typeof (socket as Record<string, unknown> | null)?.[name] !== 'function');
  if (missing.length === 0) return;
  throw new TypeError(
    `nestjs-sc-presence/client needs a socket of socketcluster-client 15 to 20 (create() of 'socketcluster-client'); ` +
      `this one has no ${missing.map((name) => `${name}()`).join(', ')}. socketcluster-client 14 and older speak ` +
      'protocol 1, which this helper does not drive: upgrade the client.',
  );
}

/** Whether an error is the server refusing a presence request (bad status, anonymous socket, not allowed). */
export function isPresenceError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'PresenceError';
}

/**
 * Keeps the server's status of one socketcluster-client socket equal to what the client wants.
 *
 * The server starts every new socket as online and refuses anonymous ones, so whenever the socket connects or
 * authenticates and the wanted status is idle, it is sent again. Background sends only go out on an open,
 * authenticated socket: an invoke on a closed socket would reconnect it, and an anonymous one is refused.
 */
export class PresenceClient {
  private wanted: PresenceClientStatus = 'online';
  /** The last status sent (or being sent) and on which connection; a new connection starts online. */
  private sent?: SentStatus;
  private readonly monitor?: IdleMonitor;
  private readonly onError: (error: Error) => void;
  private readonly onStatusChange?: (status: PresenceClientStatus) => void;
  private readonly listenerConsumers: number[] = [];
  private readonly channelConsumers = new Set<{ channel: Channel; id: number }>();
  private destroyed = false;

  constructor(
    readonly socket: AGClientSocket,
    options: PresenceClientOptions = {},
  ) {
    assertDrivableSocket(socket);
    this.onError = options.onError ?? defaultOnError;
    this.onStatusChange = options.onStatusChange;
    // Consumers of our own (not the socket's shared streams), so destroy() ends these loops and no one else's.
    this.consume(socket.listener('connect'), () => this.sync());
    this.consume(socket.listener('authenticate'), () => this.sync());
    if (options.idleMonitor !== false) {
      const monitor = new IdleMonitor((status) => this.monitorChanged(status), {
        idleAfterMs: options.idleAfterMs,
        target: options.target,
        document: options.document,
        clock: options.clock,
      });
      if (monitor.active) {
        this.monitor = monitor;
        this.wanted = monitor.status;
      }
    }
    this.sync();
  }

  /** What the client wants the server to store: `'online'` or `'idle'` (not what the server has confirmed). */
  get status(): PresenceClientStatus {
    return this.wanted;
  }

  /** Whether the idle monitor is running (there is a DOM, or objects were injected, and it is not turned off). */
  get monitoring(): boolean {
    return this.monitor?.active ?? false;
  }

  /** Marks this socket idle; resolves once stored, rejects with the server's `PresenceError` if refused. */
  setIdle(): Promise<void> {
    return this.set('idle');
  }

  /** Marks this socket online; resolves once stored, rejects with the server's `PresenceError` if refused. */
  setOnline(): Promise<void> {
    return this.set('online');
  }

  /**
   * The user count published on `channel`, as numbers (anything else published there is skipped). Subscribes
   * at once; each iteration reads from when it starts, so start iterating before the count can change. The
   * subscription stays when an iteration ends: another part of the app may use the same channel.
   */
  usercount(channel: string = DEFAULT_USERCOUNT_CHANNEL): AsyncIterable<number> {
    if (this.destroyed) throw new Error('PresenceClient was destroyed');
    const subscribed = this.socket.subscribe(channel);
    return { [Symbol.asyncIterator]: () => this.counts(subscribed) };
  }

  /**
   * Stops the idle monitor, removes its DOM listeners and ends this helper's loops (usercount iterations
   * included). The socket stays as it is: it belongs to the app.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.monitor?.stop();
    for (const id of this.listenerConsumers.splice(0)) this.socket.killListenerConsumer(id);
    for (const { channel, id } of [...this.channelConsumers]) channel.killOutputConsumer(id);
    this.channelConsumers.clear();
  }

  private set(status: PresenceClientStatus): Promise<void> {
    if (this.destroyed) return Promise.reject(new Error('PresenceClient was destroyed'));
    this.want(status);
    this.monitor?.reset(status);
    return this.send(status);
  }

  private monitorChanged(status: PresenceClientStatus): void {
    this.want(status);
    this.sync();
  }

  private want(status: PresenceClientStatus): void {
    if (this.wanted === status) return;
    this.wanted = status;
    try {
      this.onStatusChange?.(status);
    } catch (error) {
      this.report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Sends the wanted status if this connection does not have it yet and can take it. */
  private sync(): void {
    if (this.destroyed) return;
    const socket = this.socket;
    if (socket.state !== 'open' || socket.authState !== 'authenticated') return;
    const stored = this.sent && this.sent.socketId === socket.id ? this.sent.status : 'online';
    if (stored === this.wanted) return;
    this.send(this.wanted).catch((error: unknown) => {
      const err = toError(error);
      // A send cut by a disconnect needs no report: the next connection gets the wanted status anyway.
      if (err.name === 'BadConnectionError') return;
      this.report(err);
    });
  }

  private async send(status: PresenceClientStatus): Promise<void> {
    const record: SentStatus = { socketId: this.socket.id, status };
    this.sent = record;
    try {
      await this.socket.invoke(SET_STATUS_PROCEDURE, status);
    } catch (error) {
      // Not stored: let the next connect, authenticate or status change try again.
      if (this.sent === record) this.sent = undefined;
      throw error;
    }
  }

  private consume<T>(stream: { createConsumer(): unknown }, handle: (data: T) => void): void {
    const consumer = stream.createConsumer() as StreamConsumer<T>;
    this.listenerConsumers.push(consumer.id);
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await consumer.next();
          if (done) return;
          try {
            handle(value);
          } catch (error) {
            this.report(toError(error));
          }
        }
      } catch (error) {
        this.report(toError(error));
      }
    })();
  }

  private counts(channel: Channel): AsyncIterator<number> {
    const consumer = channel.createConsumer() as unknown as StreamConsumer<unknown>;
    const entry = { channel, id: consumer.id };
    this.channelConsumers.add(entry);
    const end = () => {
      if (!this.channelConsumers.delete(entry)) return;
      channel.killOutputConsumer(consumer.id);
    };
    async function* numbers(): AsyncGenerator<number, undefined> {
      try {
        for (;;) {
          const { done, value } = await consumer.next();
          if (done) return undefined;
          if (typeof value === 'number' && Number.isFinite(value)) yield value;
        }
      } finally {
        end();
      }
    }
    const generator = numbers();
    return {
      next: () => generator.next(),
      // Killing the consumer first settles a pending next(), so return() does not wait for the next publish.
      return: (value?: unknown) => {
        end();
        return generator.return(value as undefined);
      },
    };
  }

  private report(error: Error): void {
    try {
      this.onError(error);
    } catch {
      // An onError that throws must not turn into an unhandled rejection.
    }
  }
}

/** Wraps a socketcluster-client socket; see `PresenceClient`. */
export function createPresenceClient(socket: AGClientSocket, options?: PresenceClientOptions): PresenceClient {
  return new PresenceClient(socket, options);
}
