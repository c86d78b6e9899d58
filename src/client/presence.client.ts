import type { AGClientSocket } from 'socketcluster-client';
import { SET_STATE_PROCEDURE, SET_STATUS_PROCEDURE } from '../presence.constants.js';
import { ChannelFollower, type ChannelFollowOptions } from './channel.follower.js';
import { consume, SubscriptionRegistry, toError, type StreamConsumer } from './channel.watch.js';
import { ConnectionWish } from './connection.wish.js';
import {
  IdleMonitor, type DocumentLike, type EventTargetLike, type IdleClock, type PresenceClientStatus,
} from './idle.monitor.js';
import { UsersFollower, type UsersFollowOptions } from './users.follower.js';

/** A session state as the client sets it: a plain JSON object (or null for none). */
export type PresenceClientState = Record<string, unknown>;

/** JWT claims that a renewed token of the same user changes: not part of who is signed in. */
const RENEWED_CLAIMS = new Set(['iat', 'exp', 'nbf', 'jti']);

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
 * Keeps the server's status (and session state) of one socketcluster-client socket equal to what the client
 * wants, and follows rooms and users for it.
 *
 * The server starts every new socket as online with no state and refuses anonymous ones, so whenever the socket
 * connects or authenticates and the wanted status is idle (or a state is set), it is sent again. Background sends
 * only go out on an open, authenticated socket: an invoke on a closed socket would reconnect it, and an
 * anonymous one is refused.
 */
export class PresenceClient {
  private readonly status$: ConnectionWish<PresenceClientStatus>;
  /** The wanted state as JSON (compared as text), `'null'` for none: what a new connection starts with. */
  private readonly state$: ConnectionWish<string>;
  /** The last state the server accepted, to fall back to when it refuses a new one. */
  private acceptedState = 'null';
  private readonly monitor?: IdleMonitor;
  private readonly onError: (error: Error) => void;
  private readonly onStatusChange?: (status: PresenceClientStatus) => void;
  private readonly listenerConsumers: number[] = [];
  private readonly channelConsumers = new Set<{ channel: Channel; id: number }>();
  private readonly subscriptions: SubscriptionRegistry;
  private readonly followers = new Set<{ close(): void }>();
  private destroyed = false;

  constructor(
    readonly socket: AGClientSocket,
    options: PresenceClientOptions = {},
  ) {
    assertDrivableSocket(socket);
    this.onError = options.onError ?? defaultOnError;
    this.onStatusChange = options.onStatusChange;
    this.subscriptions = new SubscriptionRegistry(socket);
    this.status$ = new ConnectionWish<PresenceClientStatus>('online', (status) => socket.invoke(SET_STATUS_PROCEDURE, status));
    this.state$ = new ConnectionWish('null', (json) => socket.invoke(SET_STATE_PROCEDURE, JSON.parse(json)));
    // Consumers of our own (not the socket's shared streams), so destroy() ends these loops and no one else's.
    this.listen('connect', () => this.sync());
    this.listen('authenticate', () => this.sync());
    // The server starts a session over (online, no state) when it logs out, and when it signs in as someone
    // else (sessionKey).
    this.listen('deauthenticate', () => {
      this.status$.forget();
      this.state$.forget();
    });
    if (options.idleMonitor !== false) {
      const monitor = new IdleMonitor((status) => this.monitorChanged(status), {
        idleAfterMs: options.idleAfterMs,
        target: options.target,
        document: options.document,
        clock: options.clock,
      });
      if (monitor.active) {
        this.monitor = monitor;
        this.status$.want(monitor.status);
      }
    }
    this.sync();
  }

  /** What the client wants the server to store: `'online'` or `'idle'` (not what the server has confirmed). */
  get status(): PresenceClientStatus {
    return this.status$.value;
  }

  /** The session state last set with `setState()` (a copy), or null. */
  get state(): PresenceClientState | null {
    return JSON.parse(this.state$.value) as PresenceClientState | null;
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
   * Sets this session's state (a plain JSON object: device, typing, "in a call"), or clears it with `null`.
   * Resolves once stored; rejects with the server's `PresenceError` if refused (too big, anonymous socket).
   * The state is sent again after every reconnect, and after a login that followed a logout or signed in as
   * someone else (the server drops the state then). A state the server refused on a signed-in socket is not:
   * the last one it accepted is kept. On an anonymous socket it waits for the sign-in, like the status.
   */
  async setState(state: PresenceClientState | null): Promise<void> {
    if (this.destroyed) throw new Error('PresenceClient was destroyed');
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw new TypeError(`setState() takes a plain object or null (got ${Array.isArray(state) ? 'an array' : typeof state})`);
    }
    // A copy: what is re-sent later is what was set now, whatever the app does with its object meanwhile.
    const json = JSON.stringify(state);
    this.state$.want(json);
    try {
      await this.state$.send(this.sessionKey());
      this.acceptedState = json;
    } catch (error) {
      const refused = isPresenceError(error) && this.socket.authState === 'authenticated';
      if (refused && this.state$.value === json) this.state$.want(this.acceptedState);
      throw error;
    }
  }

  /**
   * Who is in `channel` (channel presence), kept in sync: an async iterable of `{ channel, seq, members }`, one
   * value after the snapshot and after every diff applied (a loop slower than the diffs gets the newest), with
   * the newest in `latest`. Subscribes to `prefix + channel` at once; the app subscribes to `channel` itself
   * (the server's default rule lets only its members see its presence). Ends, and unsubscribes, when the last
   * loop over it ends or on `close()`.
   */
  channel(channel: string, options: ChannelFollowOptions = {}): ChannelFollower {
    if (this.destroyed) throw new Error('PresenceClient was destroyed');
    return this.track(new ChannelFollower(this.socket, this.subscriptions, channel, options, (error) => this.report(error)));
  }

  /**
   * The status of each of `userIds` (watched users), kept in sync: an async iterable of
   * `{ [userId]: { status, lastSeen } }`, with the newest in `latest`. Ends, and unsubscribes, when the last
   * loop over it ends or on `close()`.
   */
  users(userIds: readonly string[], options: UsersFollowOptions = {}): UsersFollower {
    if (this.destroyed) throw new Error('PresenceClient was destroyed');
    return this.track(new UsersFollower(this.socket, this.subscriptions, userIds, options, (error) => this.report(error)));
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
   * Stops the idle monitor, removes its DOM listeners and ends this helper's loops (usercount iterations,
   * channel() and users() included, which unsubscribe). The socket stays as it is: it belongs to the app.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.monitor?.stop();
    for (const id of this.listenerConsumers.splice(0)) this.socket.killListenerConsumer(id);
    for (const { channel, id } of [...this.channelConsumers]) channel.killOutputConsumer(id);
    this.channelConsumers.clear();
    for (const follower of [...this.followers]) follower.close();
    this.followers.clear();
  }

  private track<T extends { close(): void; closed: boolean }>(follower: T): T {
    this.followers.add(follower);
    const close = follower.close.bind(follower);
    follower.close = () => {
      this.followers.delete(follower);
      close();
    };
    if (follower.closed) this.followers.delete(follower);
    return follower;
  }

  private set(status: PresenceClientStatus): Promise<void> {
    if (this.destroyed) return Promise.reject(new Error('PresenceClient was destroyed'));
    this.want(status);
    this.monitor?.reset(status);
    return this.status$.send(this.sessionKey());
  }

  private monitorChanged(status: PresenceClientStatus): void {
    this.want(status);
    this.sync();
  }

  private want(status: PresenceClientStatus): void {
    if (!this.status$.want(status)) return;
    try {
      this.onStatusChange?.(status);
    } catch (error) {
      this.report(toError(error));
    }
  }

  /** Sends the wanted status and state if this connection does not have them yet and can take them. */
  private sync(): void {
    if (this.destroyed) return;
    const socket = this.socket;
    if (socket.state !== 'open' || socket.authState !== 'authenticated') return;
    const key = this.sessionKey();
    for (const wish of [this.status$, this.state$]) {
      if (!wish.missing(key)) continue;
      wish.send(key).catch((error: unknown) => {
        const err = toError(error);
        // A send cut by a disconnect needs no report: the next connection gets the wanted value anyway.
        if (err.name === 'BadConnectionError') return;
        this.report(err);
      });
    }
  }

  /**
   * The server holds the status and state per connection and signed-in user: a login as someone else on the
   * same socket starts online and without a state. The user is the token's claims but for those that change
   * when the same user's token is renewed.
   */
  private sessionKey(): string {
    const token = this.socket.authToken as Record<string, unknown> | null;
    const claims = token ? Object.keys(token).filter((claim) => !RENEWED_CLAIMS.has(claim)).sort() : [];
    return `${this.socket.id}\n${JSON.stringify(claims.map((claim) => [claim, token![claim]]))}`;
  }

  private listen(event: string, handle: () => void): void {
    const consumer = this.socket.listener(event as 'connect').createConsumer() as unknown as StreamConsumer<unknown>;
    this.listenerConsumers.push(consumer.id);
    consume(consumer, handle, (error) => this.report(error));
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
