import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { AGServer, AGServerSocket } from 'socketcluster-server';
import { PresenceService, type PresenceEvent } from 'nestjs-sc-presence';
import { DEMO_CONFIG, type DemoConfig } from './demo.config.js';
import { EVENTS_CHANNEL, LOGIN_PROCEDURE } from './demo.constants.js';
import { sanitizeEvent, type DemoEvent } from './demo-events.js';
import { checkName } from './demo-names.js';

/** The users the page lists at most (the most recently active ones). */
const MAX_KNOWN_USERS = 100;
/** Events the page gets when it opens. */
const RECENT_EVENTS = 30;

export class LoginError extends Error {
  override name = 'LoginError';
}

/** What `server.listener('connection').createConsumer()` returns, as far as it is used here. */
interface ConnectionConsumer extends AsyncIterable<{ socket: AGServerSocket }> {
  readonly id: number;
}

/**
 * The live side of the demo, on the SocketCluster server the presence module runs on:
 * - the `demo.login` procedure, which signs an auth token `{ user_id: name, name }` for a valid name;
 * - every event of `PresenceService.events$`, sanitized, published on `demo:events` for the open pages;
 * - the users seen and the recent events, for a page that just opened.
 *
 * What this server knows comes from `events$` only, never from what arrives on a channel: the page's clients
 * may not publish at all (`allowClientPublish: false`, see `demoPresenceOptions`), and even if a channel were
 * writable, nothing read from it could reach the user list or the log. In a cluster each instance remembers
 * the events its own hooks saw; every page still receives the live events of all instances.
 */
@Injectable()
export class DemoLiveService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Demo');
  private readonly known = new Map<string, number>();
  private readonly recent: DemoEvent[] = [];
  private events?: Subscription;
  private server?: AGServer;
  private connections?: ConnectionConsumer;

  constructor(
    private readonly presence: PresenceService,
    @Inject(DEMO_CONFIG) readonly config: DemoConfig,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.presence.server;
    this.server = server;
    this.connections = server.listener('connection').createConsumer() as unknown as ConnectionConsumer;
    void this.serveConnections(this.connections);
    for (const socket of Object.values(server.clients)) void this.serveLogin(socket);
    this.events = this.presence.events$.subscribe((event) => this.record(event));
  }

  onApplicationShutdown(): void {
    this.events?.unsubscribe();
    if (this.connections) this.server?.killListenerConsumer(this.connections.id);
  }

  /** The users seen lately, most recently active first. */
  knownUsers(): string[] {
    return [...this.known.entries()].sort((a, b) => b[1] - a[1]).map(([userId]) => userId);
  }

  /** The last events, oldest first. */
  recentEvents(): DemoEvent[] {
    return [...this.recent];
  }

  private record(presenceEvent: PresenceEvent): void {
    const event = sanitizeEvent(presenceEvent);
    if ('userId' in event && event.userId) this.remember(event.userId);
    this.recent.push(event);
    if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    try {
      void this.server?.exchange.transmitPublish(EVENTS_CHANNEL, event)?.catch?.(() => undefined);
    } catch (error) {
      this.logger.warn(`publishing on ${EVENTS_CHANNEL} failed: ${(error as Error).message}`);
    }
  }

  private remember(userId: string): void {
    this.known.delete(userId);
    this.known.set(userId, Date.now());
    if (this.known.size > MAX_KNOWN_USERS) this.known.delete(this.known.keys().next().value as string);
  }

  private async serveConnections(connections: ConnectionConsumer): Promise<void> {
    for await (const { socket } of connections) void this.serveLogin(socket);
  }

  /** Answers `demo.login` on one socket until it closes. */
  private async serveLogin(socket: AGServerSocket): Promise<void> {
    for await (const request of socket.procedure(LOGIN_PROCEDURE)) {
      try {
        request.end(await this.login(socket, request.data));
      } catch (error) {
        request.error(error as Error);
      }
    }
  }

  private async login(socket: AGServerSocket, data: unknown): Promise<{ userId: string }> {
    const checked = checkName(data);
    if ('problem' in checked) throw new LoginError(checked.problem);
    // Known before the page hears of its token, so that the user list it asks for then has the user in it.
    this.remember(checked.name);
    try {
      await socket.setAuthToken({ user_id: checked.name, name: checked.name });
    } catch (error) {
      this.logger.warn(`signing in failed: ${(error as Error).message}`);
      throw new LoginError('signing in failed, try again');
    }
    return { userId: checked.name };
  }
}
