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

/**
 * Starts and stops the module's parts in one order, so that nothing runs before the options are valid and the
 * tables exist, and nothing is left running after `app.close()`.
 */
@Injectable()
export class PresenceOrchestrator implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('PresenceModule');
  private started = false;

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
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.usercount.stop();
    await this.gc.stop();
    await this.heartbeat.stop();
    await this.tracker.stop();
    const server = this.host.get();
    await this.host.close();
    await this.writer.drain();
    this.writer.stop();
    try {
      // With an offline grace, users of this instance keep their status for it: they may be reconnecting to
      // another instance (a rolling deploy). The GC leader's sweep takes the others offline.
      const at = new Date();
      const { sockets, ...transitions } = await this.store.removeInstance(this.instance.id, at, this.config.options.offlineGraceMs > 0);
      await this.effects.apply(
        { at, ...transitions, counts: { leftSockets: sockets.length } },
        { reason: 'disconnect', instanceId: this.instance.id, shutdown: true },
      );
    } catch (error) {
      this.logger.error(`could not remove this instance's rows; GC will: ${(error as Error).message}`);
    }
    await this.scc.stop(server);
    this.effects.stop();
    this.events.complete();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
