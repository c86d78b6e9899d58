import { Injectable, Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PresenceConfig } from '../options/presence.config.js';
import { HEARTBEAT_INTERVAL_NAME } from '../presence.constants.js';
import { PresenceStore } from '../store/presence.store.js';
import { PresenceWriter } from '../tracker/presence.writer.js';
import { PresenceInstance } from '../store/presence.instance.js';
import { CommitEffects } from '../effects/commit.effects.js';

/**
 * Every pingInterval × pingsPerUpdate: renew this instance's lease and refresh SCP_updated of all its rows,
 * two statements whatever the number of sockets. Socket liveness itself is SocketCluster's ping timeout.
 */
@Injectable()
export class PresenceHeartbeat {
  private readonly logger = new Logger('PresenceHeartbeat');
  private failing = false;
  /** The last mismatch a reconcile was asked for, until a beat finds none. */
  private unmended?: string;
  private beating?: Promise<void>;
  /** When this instance's lease was last renewed, and when a renewal last succeeded after a failed or late one. */
  private renewedAt = 0;
  private recoveredAt = 0;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly writer: PresenceWriter,
    private readonly instance: PresenceInstance,
    private readonly effects: CommitEffects,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  /**
   * Registers this instance (a cold start if no other is alive: every old row dropped, `@OnPresenceCleanup`
   * told without socket ids), then renews the lease every period.
   */
  async start(): Promise<void> {
    const now = new Date();
    const { gc, offlineGraceMs } = this.config.options;
    const ago = (ms: number) => new Date(now.getTime() - ms);
    const { coldStart, ...transitions } = await this.store.register(this.instance, ago(gc.thresholdMs), ago(offlineGraceMs), now);
    this.renewedAt = now.getTime();
    if (coldStart) {
      const owed = transitions.changes.length + transitions.deferred.length;
      this.logger.log(
        'no other instance is alive: cold start, old presence rows dropped and every user set offline' +
          (owed > 0 ? ` (${owed} left in their offline grace by the last instance to stop get their offline hook)` : ''),
      );
      await this.effects.apply({ at: now, cleanup: {}, ...transitions }, { reason: 'cleanup', instanceId: this.instance.id });
    }
    const timer = setInterval(() => void this.beat(), this.config.options.heartbeat.periodMs);
    this.scheduler.addInterval(HEARTBEAT_INTERVAL_NAME, timer);
  }

  async stop(): Promise<void> {
    if (this.scheduler.doesExist('interval', HEARTBEAT_INTERVAL_NAME)) this.scheduler.deleteInterval(HEARTBEAT_INTERVAL_NAME);
    await this.beating;
  }

  /**
   * Whether this instance may reap others. Not while its own renewals fail or are late, and not for one GC
   * threshold (plus a statement's bound, for a renewal that was hung in the outage) after they succeed again:
   * an outage that every instance saw left every lease stale, and the others are renewing theirs too.
   */
  mayReap(now = Date.now()): boolean {
    const { gc, statementTimeoutMs } = this.config.options;
    return !this.failing && now - this.renewedAt < gc.thresholdMs && now - this.recoveredAt >= gc.thresholdMs + statementTimeoutMs;
  }

  beat(): Promise<void> {
    this.beating ??= this.store
      .heartbeat(this.instance, new Date(), this.writer.lastStoredRows)
      .then((refreshed) => {
        const now = Date.now();
        if (this.failing || now - this.renewedAt >= this.config.options.gc.thresholdMs) {
          this.recoveredAt = now;
          this.logger.log('lease renewed after a failed or late renewal: no instance is reaped for one GC threshold');
        }
        this.renewedAt = now;
        // Read once: each read counts the rows of every stored socket.
        const stored = this.writer.storedRows;
        if (this.failing) {
          this.failing = false;
          this.logger.log('heartbeat succeeds again');
          // Rows may have been collected while this instance could not refresh them.
          this.writer.requestReconcile();
        } else if (refreshed !== undefined && stored !== undefined && refreshed !== stored) {
          // Fewer rows than this instance wrote: some were collected during a pause (or deleted by hand); more:
          // ghosts of sockets whose deletion was lost. Either way, rewrite what is live and drop the rest. The
          // same mismatch again right after that is one a rewrite cannot mend: it is not retried every beat.
          const mismatch = `${refreshed}/${stored}`;
          if (mismatch === this.unmended) return;
          this.logger.warn(`heartbeat refreshed ${refreshed} rows where ${stored} are stored: reconciling`);
          this.unmended = mismatch;
          this.writer.requestReconcile();
        } else if (refreshed !== undefined && stored !== undefined) {
          this.unmended = undefined;
        }
      })
      .catch((error: Error) => {
        if (!this.failing) this.logger.error(`heartbeat failed, rows may be collected if this lasts: ${error.message}`);
        this.failing = true;
      })
      .finally(() => (this.beating = undefined));
    return this.beating;
  }
}
