import { Injectable, Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PresenceConfig } from '../options/presence.config.js';
import { GC_INTERVAL_NAME } from '../presence.constants.js';
import { CommitEffects } from '../effects/commit.effects.js';
import { PresenceInstance } from '../store/presence.instance.js';
import { PresenceStore } from '../store/presence.store.js';
import { PresenceHeartbeat } from './presence-heartbeat.service.js';

/** Rows each side table may lose per GC run. */
const PRUNE_LIMIT = 500;
/**
 * The history grows by a row per session, far faster than the status rows: it is pruned in statements of
 * HISTORY_PRUNE_LIMIT rows, at most HISTORY_PRUNE_BATCHES per run (100,000 rows a run, 144 million a day at the
 * default interval), each short enough not to hold up the flushes that insert into it.
 */
const HISTORY_PRUNE_LIMIT = 2000;
const HISTORY_PRUNE_BATCHES = 50;

/**
 * Garbage collection, registered at runtime from the options on @nestjs/schedule's registry: every
 * `gc.intervalMs`, rows and leases not refreshed within `gc.thresholdMs` are deleted and the count republished.
 */
@Injectable()
export class PresenceGc {
  private readonly logger = new Logger('PresenceGc');
  private running?: Promise<number>;
  private failures = 0;

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly effects: CommitEffects,
    private readonly instance: PresenceInstance,
    private readonly scheduler: SchedulerRegistry,
    private readonly heartbeat: PresenceHeartbeat,
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

  /**
   * With `gc.enabled: 'auto'` only the leader collects: the oldest instance whose lease is current (SQLite is
   * one host, so it is always its own leader). If the leader dies, its lease expires within `gc.thresholdMs`
   * and the next oldest takes over. Two instances that both think they lead are harmless: reaping an
   * instance is decided by deleting its lease, which only one of them can do.
   */
  private isLeader(leader: string | undefined): boolean {
    const { enabled } = this.config.options.gc;
    return enabled === true || (enabled === 'auto' && leader === this.instance.id);
  }

  private async collect(): Promise<number> {
    const { gc, offlineGraceMs, heartbeat, history } = this.config.options;
    const now = new Date();
    const cutoff = new Date(now.getTime() - gc.thresholdMs);
    // A status row still online or idle without sessions for longer than the grace (plus a heartbeat of slack
    // for the instance that owns the grace timer) belongs to an instance that died during that grace.
    const statusCutoff = new Date(now.getTime() - offlineGraceMs - heartbeat.periodMs);
    // Leases and rows that look stale may only be so because this instance's view of time is what went away.
    if (!this.heartbeat.mayReap(now.getTime())) return 0;
    try {
      const leases = await this.store.leases(cutoff);
      if (!this.isLeader(leases.leader)) return 0;
      let rows = 0;
      for (const dead of leases.dead) {
        const reaped = await this.store.reapInstance(dead, cutoff, now);
        if (!reaped) continue;
        const { sockets, ...transitions } = reaped;
        this.logger.warn(`instance ${dead} stopped renewing its lease: removed its ${sockets.length} sockets`);
        const cleanup = { instanceId: dead, socketIds: sockets.map((s) => s.socketId) };
        await this.effects.apply(
          { at: now, ...transitions, cleanup, counts: { leftSockets: sockets.length } },
          { reason: 'instance-down', instanceId: dead },
        );
        rows += sockets.length;
      }
      const { sockets, rows: removedRows, ...transitions } = await this.store.collectGarbage(cutoff, statusCutoff, now);
      if (removedRows > 0) this.logger.log(`removed ${removedRows} abandoned rows (${sockets.length} sockets)`);
      await this.effects.apply(
        {
          at: now,
          ...transitions,
          cleanup: sockets.length > 0 ? { socketIds: sockets.map((s) => s.socketId) } : undefined,
          counts: { leftSockets: sockets.length, leftChannels: removedRows - sockets.length },
        },
        { reason: 'cleanup', instanceId: this.instance.id },
      );
      // Side tables last: a bounded delete per run, so a backlog is worked off over a few runs.
      const pruned = await this.store.prune(new Date(now.getTime() - gc.retentionMs), PRUNE_LIMIT);
      if (pruned.statuses + pruned.channels > 0) {
        this.logger.log(`pruned ${pruned.statuses} status rows and ${pruned.channels} channel counters older than gc.retentionMs`);
      }
      if (history) {
        const sessions = await this.store.pruneHistory(new Date(now.getTime() - history.retentionMs), HISTORY_PRUNE_LIMIT, HISTORY_PRUNE_BATCHES);
        if (sessions > 0) this.logger.log(`pruned ${sessions} history rows older than history.retentionMs`);
      }
      if (this.failures > 0) this.logger.log(`garbage collection works again after ${this.failures} failed runs`);
      this.failures = 0;
      return rows + removedRows;
    } catch (error) {
      // Logged when it starts failing and now and then after: an outage should not flood the log.
      if (this.failures++ % 20 === 0) this.logger.error(`garbage collection failed (${this.failures}×): ${(error as Error).message}`);
      return 0;
    }
  }
}
