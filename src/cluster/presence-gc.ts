import { Injectable, Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PresenceConfig } from '../options/presence.config.js';
import { GC_INTERVAL_NAME } from '../presence.constants.js';
import { PresenceStore } from '../store/presence.store.js';
import { UsercountPublisher } from '../usercount/usercount.publisher.js';

/**
 * Garbage collection, registered at runtime from the options on @nestjs/schedule's registry: every
 * `gc.intervalMs`, rows and leases not refreshed within `gc.thresholdMs` are deleted and the count republished.
 */
@Injectable()
export class PresenceGc {
  private readonly logger = new Logger('PresenceGc');
  private running?: Promise<number>;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly usercount: UsercountPublisher,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  start(): void {
    const { enabled, intervalMs } = this.config.options.gc;
    if (enabled === false) return;
    this.scheduler.addInterval(GC_INTERVAL_NAME, setInterval(() => void this.run(), intervalMs));
  }

  async stop(): Promise<void> {
    if (this.scheduler.doesExist('interval', GC_INTERVAL_NAME)) this.scheduler.deleteInterval(GC_INTERVAL_NAME);
    await this.running;
  }

  /** One pass; overlapping calls share it. Resolves with the number of rows removed. */
  run(): Promise<number> {
    this.running ??= this.collect().finally(() => (this.running = undefined));
    return this.running;
  }

  private async collect(): Promise<number> {
    const cutoff = new Date(Date.now() - this.config.options.gc.thresholdMs);
    try {
      const { rows, sockets } = await this.store.collectGarbage(cutoff);
      if (rows > 0) {
        this.logger.log(`removed ${rows} abandoned rows (${sockets.length} sockets)`);
        this.usercount.changed({
          joinedSockets: 0, joinedChannels: 0, rekeyedSockets: 0, leftSockets: sockets.length, leftChannels: rows - sockets.length,
        });
      }
      return rows;
    } catch (error) {
      this.logger.error(`garbage collection failed: ${(error as Error).message}`);
      return 0;
    }
  }
}
