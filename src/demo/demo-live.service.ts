import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { AGServer, AGServerSocket } from 'socketcluster-server';
import { PresenceService } from '../index.js';
import { DEMO_CONFIG, type DemoConfig } from './demo.config.js';
import { EVENTS_CHANNEL, LOGIN_PROCEDURE } from './demo.constants.js';
import { parseDemoEvent, sanitizeEvent, type DemoEvent } from './demo-events.js';
import { checkName } from './demo-names.js';
import { answerProcedure, consumeListener } from '../socketcluster/listener-loop.util.js';

/** The users the page lists at most (the most recently active ones). */
const MAX_KNOWN_USERS = 100;
/** Events the page gets when it opens. */
const RECENT_EVENTS = 30;

interface Consumer<T> {
  readonly id: number;
  next(): Promise<IteratorResult<T>>;
}

export class LoginError extends Error {
  override name = 'LoginError';
}

/**
 * The live side of the demo, on the SocketCluster server the presence module runs on:
 * - the `demo.login` procedure, which signs an auth token `{ user_id: name, name }` for a valid name;
 * - every event of `PresenceService.events$`, sanitized, published on `demo:events`;
 * - the users seen and the recent events, for a page that just opened (read from `demo:events`, so an
 *   instance of a cluster also knows what happened on the others).
 */
@Injectable()
export class DemoLiveService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Demo');
  private readonly known = new Map<string, number>();
  private readonly recent: DemoEvent[] = [];
  private readonly stops: (() => void)[] = [];
  private events?: Subscription;
  private server?: AGServer;

  constructor(
    private readonly presence: PresenceService,
    @Inject(DEMO_CONFIG) readonly config: DemoConfig,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.presence.server;
    this.server = server;
    const connections = consumeListener<{ socket: AGServerSocket }>(server, 'connection', ({ socket }) => this.serveLogin(socket), (error) =>
      this.logger.error(`handling a connection failed: ${error.message}`),
    );
    this.stops.push(() => void connections.stop());
    for (const socket of Object.values(server.clients)) this.serveLogin(socket);

    this.events = this.presence.events$.subscribe((event) => this.publish(EVENTS_CHANNEL, sanitizeEvent(event)));
    this.followEvents(server);
  }

  onApplicationShutdown(): void {
    this.events?.unsubscribe();
    for (const stop of this.stops.splice(0)) stop();
  }

  /** The users seen lately, most recently active first. */
  knownUsers(): string[] {
    return [...this.known.entries()].sort((a, b) => b[1] - a[1]).map(([userId]) => userId);
  }

  /** The last events, oldest first. */
  recentEvents(): DemoEvent[] {
    return [...this.recent];
  }

  private remember(userId: string): void {
    this.known.delete(userId);
    this.known.set(userId, Date.now());
    if (this.known.size > MAX_KNOWN_USERS) this.known.delete(this.known.keys().next().value as string);
  }

  private serveLogin(socket: AGServerSocket): void {
    answerProcedure(socket, LOGIN_PROCEDURE, async (data) => {
      const checked = checkName(data);
      if ('problem' in checked) throw new LoginError(checked.problem);
      try {
        await socket.setAuthToken({ user_id: checked.name, name: checked.name });
      } catch (error) {
        this.logger.warn(`signing in failed: ${(error as Error).message}`);
        throw new LoginError('signing in failed, try again');
      }
      this.remember(checked.name);
      return { userId: checked.name };
    });
  }

  private publish(channel: string, data: unknown): void {
    try {
      void this.server?.exchange.transmitPublish(channel, data)?.catch?.(() => undefined);
    } catch (error) {
      this.logger.warn(`publishing on ${channel} failed: ${(error as Error).message}`);
    }
  }

  /** Reads `demo:events` back from the exchange: events of every instance, for the user list and the log. */
  private followEvents(server: AGServer): void {
    const channel = server.exchange.subscribe(EVENTS_CHANNEL);
    const consumer = channel.createConsumer() as unknown as Consumer<unknown>;
    this.stops.push(() => {
      channel.killOutputConsumer(consumer.id);
      channel.unsubscribe();
    });
    void (async () => {
      for (;;) {
        const { done, value } = await consumer.next();
        if (done) return;
        const event = parseDemoEvent(value);
        if (!event) continue;
        if ('userId' in event && event.userId) this.remember(event.userId);
        this.recent.push(event);
        if (this.recent.length > RECENT_EVENTS) this.recent.shift();
      }
    })();
  }

}
