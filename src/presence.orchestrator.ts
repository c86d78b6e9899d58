import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PresenceGc } from './cluster/presence-gc.service.js';
import { PresenceHeartbeat } from './cluster/presence-heartbeat.service.js';
import { PresenceInstance } from './store/presence.instance.js';
import { PresenceScc } from './cluster/presence-scc.service.js';
import { PresenceConfig } from './options/presence.config.js';
import { AgServerHost } from './socketcluster/ag-server.host.js';
import { PresenceTracker } from './tracker/presence.tracker.js';
import { PresenceStore } from './store/presence.store.js';
import { PresenceWriter } from './tracker/presence.writer.js';
import { UsercountPublisher } from './usercount/usercount.publisher.js';
import { PresenceEvents } from './events/presence-events.service.js';
import { PresenceExplorer } from './events/presence.explorer.js';
import { CommitEffects } from './effects/commit.effects.js';
import { settledWithin } from './store/connection.bound.js';

/**
 * Starts and stops the module's parts in one order, so that nothing runs before the options are valid and the
 * tables exist, and nothing is left running after `app.close()`.
 */
@Injectable()
export class PresenceOrchestrator implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('PresenceModule');
  private started = false;
  /** When `app.close()` must be done by (`shutdownTimeoutMs` after it began). */
  private shutdownBy = 0;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly host: AgServerHost,
    private readonly tracker: PresenceTracker,
    private readonly writer: PresenceWriter,
    private readonly usercount: UsercountPublisher,
    private readonly heartbeat: PresenceHeartbeat,
    private readonly gc: PresenceGc,
    private readonly instance: PresenceInstance,
    private readonly effects: CommitEffects,
    private readonly events: PresenceEvents,
    private readonly explorer: PresenceExplorer,
    private readonly scc: PresenceScc,
  ) {}

  async onModuleInit(): Promise<void> {
    const options = this.config.options; // throws the PresenceConfigError, failing app.init()
    await this.store.init();
    const server = this.host.get();
    this.explorer.explore();
    await this.heartbeat.start();
    this.tracker.attach(server);
    this.scc.start(server);
    this.usercount.start(server);
    this.gc.start();
    this.started = true;
    this.logger.log(
      `tracking presence on ${this.store.connection.options.type} table '${options.tableName}' as instance ${this.instance.id}`,
    );
  }

  /**
   * Stop taking events, close the server we own, write what is queued, remove this instance's rows (with the
   * transitions that follow), publish the new count, and only then leave SCC so that the publish gets out.
   * The database steps share `shutdownTimeoutMs` (less a reserve for leaving SCC and closing the pool): a
   * database that does not answer leaves the rows to the GC of another instance or to the next cold start.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    const { shutdownTimeoutMs } = this.config.options;
    this.shutdownBy = Date.now() + shutdownTimeoutMs;
    const databaseBy = this.shutdownBy - Math.min(2000, shutdownTimeoutMs / 5);
    this.usercount.stop();
    // Their timers stop at once; a pass or beat in flight is awaited with the rest of the database work.
    const inFlight = Promise.all([this.gc.stop(), this.heartbeat.stop()]);
    await this.tracker.stop();
    const server = this.host.get();
    await this.host.close();
    const shutdown = { late: false };
    const done = await settledWithin(this.leaveTable(inFlight, shutdown), Math.max(0, databaseBy - Date.now()));
    if (!done.done) {
      shutdown.late = true;
      this.logger.warn(
        `shutdown: the database did not answer within ${shutdownTimeoutMs} ms; this instance's rows are left to the GC ` +
          'of another instance (once its lease expires) or to the next cold start',
      );
    }
    this.writer.stop();
    await this.scc.stop(server);
    this.effects.stop();
    this.events.complete();
  }

  async onApplicationShutdown(): Promise<void> {
    // What is left of the shutdown's time, but a moment at least to say goodbye to a database that answers.
    const closed = await this.store.close(this.shutdownBy ? Math.max(200, this.shutdownBy - Date.now()) : undefined);
    if (!closed) this.logger.warn('shutdown: the database connections did not close in time and were destroyed');
  }

  /** The database part of the shutdown: in-flight work, the queued writes, then this instance's rows and lease. */
  private async leaveTable(inFlight: Promise<unknown>, shutdown: { late: boolean }): Promise<void> {
    await inFlight;
    await this.writer.drain();
    this.writer.stop();
    // Given up on: nothing may be emitted once the events have completed.
    if (shutdown.late) return;
    try {
      // With an offline grace, users of this instance keep their status for it: they may be reconnecting to
      // another instance (a rolling deploy). The GC leader's sweep takes the others offline.
      const at = new Date();
      const { sockets, ...transitions } = await this.store.removeInstance(this.instance.id, at, this.config.options.offlineGraceMs > 0);
      if (shutdown.late) return;
      await this.effects.apply(
        { at, ...transitions, counts: { leftSockets: sockets.length } },
        { reason: 'disconnect', instanceId: this.instance.id, shutdown: true },
      );
    } catch (error) {
      this.logger.error(
        `could not remove this instance's rows; the GC of another instance or the next cold start will: ${(error as Error).message}`,
      );
    }
  }
}
