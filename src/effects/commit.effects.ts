import { Injectable, Logger } from '@nestjs/common';
import { ChannelPresence } from '../channels/channel-presence.service.js';
import { PresenceEvents } from '../events/presence-events.service.js';
import { PresenceConfig } from '../options/presence.config.js';
import type { Commit, CommitCause, SessionRef } from '../presence.types.js';
import { PresenceInstance } from '../store/presence.instance.js';
import { PresenceStore } from '../store/presence.store.js';
import { UsercountPublisher } from '../usercount/usercount.publisher.js';
import { UserPresence } from '../users/user-presence.service.js';

/**
 * The one path from a committed transaction to the rest of the app. Whatever wrote the table (a flush, GC,
 * reaping a dead instance, a cold start, shutdown) hands its commit here, and the same things follow in the
 * same order: the cleanup event, session events, channel diffs, user events and watched users' messages, the
 * offline grace, the user count.
 * What is reported was decided inside the transaction, so each change is reported once in the cluster.
 */
@Injectable()
export class CommitEffects {
  private readonly logger = new Logger('PresenceEffects');
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly events: PresenceEvents,
    private readonly channels: ChannelPresence,
    private readonly usercount: UsercountPublisher,
    private readonly instance: PresenceInstance,
    private readonly users: UserPresence,
  ) {}

  async apply(commit: Commit, cause: CommitCause): Promise<void> {
    const { at } = commit;
    if (commit.cleanup) this.events.emit({ type: 'cleanup', ...commit.cleanup, at });
    for (const session of commit.connected ?? []) this.session('session.connected', session, at);
    for (const session of commit.disconnected ?? []) this.session('session.disconnected', session, at);
    this.channels.publish(commit.channels ?? []);
    for (const { userId, from, to } of commit.changes ?? []) {
      const user = cause.users?.get(userId);
      this.events.emit({
        type: `user.${to}`, userId, status: to, previousStatus: from, socketId: user?.socketId, instanceId: cause.instanceId,
        reason: user?.reason ?? cause.reason, at,
      });
    }
    this.users.publish(commit.changes ?? [], at);
    // On shutdown the users keep their status: they may be reconnecting elsewhere, and the GC leader's sweep
    // takes the others offline.
    if (!cause.shutdown) for (const userId of commit.deferred ?? []) this.graceFor(userId, cause);
    const counts = commit.counts ?? {};
    // The publisher's timers are stopped by then: on shutdown the count goes out at once.
    if (cause.shutdown) {
      if ((counts.leftSockets ?? 0) > 0) await this.usercount.publishNow();
    } else {
      this.usercount.changed(counts);
    }
  }

  stop(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
  }

  /**
   * A user left without sessions is re-checked after `offlineGraceMs` and goes offline only if no session came
   * back in the meantime (on any instance). If this instance dies first, the GC leader's sweep does it.
   */
  private graceFor(userId: string, cause: CommitCause): void {
    clearTimeout(this.graceTimers.get(userId));
    const user = cause.users?.get(userId);
    const own: CommitCause = { reason: cause.reason, instanceId: cause.instanceId, users: user ? new Map([[userId, user]]) : undefined };
    const timer = setTimeout(() => {
      this.graceTimers.delete(userId);
      const at = new Date();
      this.store
        .recompute([userId], at)
        .then((transitions) => this.apply({ at, ...transitions }, own))
        .catch((error: Error) => this.logger.error(`re-checking ${userId} after the offline grace failed: ${error.message}`));
    }, this.config.options.offlineGraceMs);
    this.graceTimers.set(userId, timer);
  }

  private session(type: 'session.connected' | 'session.disconnected', session: SessionRef, at: Date): void {
    this.events.emit({ type, ...session, instanceId: this.instance.id, at });
  }
}
