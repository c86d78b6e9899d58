import { Injectable, Logger } from '@nestjs/common';
import type { AGServer } from 'socketcluster-server';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceStore } from '../store/presence.store.js';
import type { CountDelta } from '../presence.types.js';

/**
 * Publishes the cluster-wide count on `usercount.channel` as a bare integer, as sc-presence did, without its
 * defects: a drop to 0 is published, a change during the startup quiet period leads to one catch-up publish
 * when it ends, and a burst of changes leads to one publish. A connect waits `connectDelayMs` so the new
 * socket can subscribe to the channel first; a leave is published at once.
 */
@Injectable()
export class UsercountPublisher {
  private readonly logger = new Logger('UsercountPublisher');
  private server?: AGServer;
  private quietTimer?: NodeJS.Timeout;
  private publishTimer?: NodeJS.Timeout;
  private publishAt = 0;
  private burstStart = 0;
  private followUp = false;
  private quiet = false;
  private publishing?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
  ) {}

  start(server: AGServer): void {
    const usercount = this.config.options.usercount;
    if (!usercount) return;
    this.server = server;
    if (usercount.startupQuietMs > 0) {
      this.quiet = true;
      this.quietTimer = setTimeout(() => {
        this.quiet = false;
        this.schedule(0); // the catch-up: clients that came during the quiet period have no count yet
      }, usercount.startupQuietMs);
    }
  }

  /** Called after each commit (a flush of the write queue, GC, reaping) with how it moved the counts. */
  changed(result: Partial<CountDelta>): void {
    const usercount = this.config.options.usercount;
    if (!usercount || !this.server || this.stopped) return;
    const counted = usercount.type === 'subscriptions';
    const { joinedSockets = 0, leftSockets = 0, joinedChannels = 0, leftChannels = 0, rekeyedSockets = 0 } = result;
    const joins = counted ? joinedChannels : joinedSockets + rekeyedSockets;
    const leaves = counted ? leftChannels : leftSockets;
    if (joins > 0) this.schedule(usercount.connectDelayMs);
    else if (leaves > 0) this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    clearTimeout(this.publishTimer);
  }

  /** Publishes the current count now, whatever the quiet period (used on shutdown, and by tests). */
  async publishNow(): Promise<void> {
    if (this.publishing) {
      this.again = true;
      return this.publishing;
    }
    this.publishing = this.publish().finally(() => (this.publishing = undefined));
    await this.publishing;
    if (this.again) {
      this.again = false;
      await this.publishNow();
    }
  }

  /**
   * One timer for the whole burst: a later connect pushes the publish back, a leave never brings it forward.
   * A steady stream of connects cannot postpone it for ever: after 5 × connectDelayMs it is published, and the
   * connects that came too late for it get one more publish.
   */
  private schedule(delay: number): void {
    if (this.quiet || this.stopped) return;
    const now = Date.now();
    if (!this.publishTimer) {
      this.burstStart = now;
      this.setTimer(now + delay);
      return;
    }
    if (now + delay <= this.publishAt) return;
    const cap = this.burstStart + 5 * Math.max(delay, 1);
    if (now + delay > cap) this.followUp = true;
    if (this.publishAt < cap) this.setTimer(Math.min(now + delay, cap));
  }

  private setTimer(at: number): void {
    clearTimeout(this.publishTimer);
    this.publishAt = at;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      void this.publishNow();
      if (this.followUp) {
        this.followUp = false;
        this.schedule(this.config.options.usercount ? this.config.options.usercount.connectDelayMs : 0);
      }
    }, Math.max(0, at - Date.now()));
  }

  private async publish(): Promise<void> {
    const usercount = this.config.options.usercount;
    if (!usercount || !this.server) return;
    try {
      const count = await this.store.count(usercount.type);
      await this.server.exchange.transmitPublish(usercount.channel, count);
    } catch (error) {
      this.logger.error(`publishing the user count failed: ${(error as Error).message}`);
    }
  }
}
