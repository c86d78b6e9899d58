import { Injectable, Logger } from '@nestjs/common';
import { ChannelPresence } from '../channels/channel-presence.service.js';
import { PresenceInstance } from '../store/presence.instance.js';
import type { StatusReason } from '../presence.types.js';
import { PresenceEvents } from '../events/presence-events.service.js';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceStore, type Transitions } from '../store/presence.store.js';
import type { FlushResult, SessionInfo } from '../tracker/presence.writer.js';

interface Cause {
  socketId?: string;
  reason: StatusReason;
  instanceId: string;
}

/**
 * Turns committed status transitions into events, and keeps the offline grace: a user left without sessions
 * is re-checked after `offlineGraceMs` and goes offline only if no session came back in the meantime (on any
 * instance). If this instance dies first, the GC leader's sweep takes the user offline instead.
 */
@Injectable()
export class PresenceStatus {
  private readonly logger = new Logger('PresenceStatus');
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly events: PresenceEvents,
    private readonly instance: PresenceInstance,
    private readonly channels: ChannelPresence,
  ) {}

  /** After each flush: session events first, then the user transitions it committed. */
  flushed(result: FlushResult): void {
    for (const session of result.connected) this.session('session.connected', session, result.at);
    for (const session of result.disconnected) this.session('session.disconnected', session, result.at);
    this.apply(result.transitions, result.at, (userId) => {
      const cause = result.causes.get(userId);
      return { socketId: cause?.socketId, reason: cause?.reason ?? 'cleanup', instanceId: this.instance.id };
    });
  }

  /** Transitions committed outside a flush (GC, reaping, shutdown), all with one cause. */
  applied(transitions: Transitions, cause: Cause, at = new Date()): void {
    this.apply(transitions, at, () => cause);
  }

  stop(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
  }

  private apply(transitions: Transitions, at: Date, causeOf: (userId: string) => Cause): void {
    this.channels.publish(transitions.channels);
    for (const { userId, from, to } of transitions.changes) {
      const cause = causeOf(userId);
      this.events.emit({
        type: `user.${to}`, userId, status: to, previousStatus: from, socketId: cause.socketId, instanceId: cause.instanceId,
        reason: cause.reason, at,
      });
    }
    for (const userId of transitions.deferred) this.graceFor(userId, causeOf(userId));
  }

  private graceFor(userId: string, cause: Cause): void {
    clearTimeout(this.graceTimers.get(userId));
    const timer = setTimeout(() => {
      this.graceTimers.delete(userId);
      this.store
        .recompute([userId], new Date())
        .then((transitions) => this.apply({ ...transitions, deferred: [] }, new Date(), () => cause))
        .catch((error: Error) => this.logger.error(`re-checking ${userId} after the offline grace failed: ${error.message}`));
    }, this.config.options.offlineGraceMs);
    this.graceTimers.set(userId, timer);
  }

  private session(type: 'session.connected' | 'session.disconnected', session: SessionInfo, at: Date): void {
    this.events.emit({ type, ...session, instanceId: this.instance.id, at });
  }
}
