import { Injectable, Logger } from '@nestjs/common';
import { Observable } from 'rxjs';
import type { AGServerSocket } from 'socketcluster-server';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceError } from '../presence.errors.js';
import { CHANNEL_PRESENCE_OFF, CHANNEL_WITHOUT_PRESENCE } from '../presence.messages.js';
import { channelProblem } from '../socketcluster/socket-identity.util.js';
import { AgServerHost } from '../socketcluster/ag-server.host.js';
import type { ChannelDiff, ChannelSnapshot } from '../presence.types.js';
import { PresenceStore } from '../store/presence.store.js';
import { checkChannelAccess } from '../socketcluster/channel-access.check.js';

/**
 * Who is in a room. Diffs are decided in the write transaction (see store/members.table.ts) and published
 * here, after commit (by CommitEffects), by the instance that made them: on `prefix + channel`, reaching other instances through
 * SCC. Only user ids and statuses leave the server: never tokens or addresses.
 */
@Injectable()
export class ChannelPresence {
  private readonly logger = new Logger('ChannelPresence');
  /** Observers per published channel, and whether the exchange subscription is ours to end with the last one. */
  private readonly observed = new Map<string, { observers: number; owned: boolean }>();

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly host: AgServerHost,
  ) {}

  publish(diffs: readonly ChannelDiff[]): void {
    const presence = this.config.options.channelPresence;
    if (!presence) return;
    for (const diff of diffs) {
      this.host
        .get()
        .exchange.transmitPublish(presence.prefix + diff.channel, diff)
        .catch((error: Error) => this.logger.error(`publishing the presence of '${diff.channel}' failed: ${error.message}`));
    }
  }

  /**
   * The diffs of `channel` as they are published, by this instance or (through SCC) any other: one exchange
   * subscription per channel, however many observers, ended when the last observer unsubscribes. The channel is
   * checked at once: a bad name throws a PresenceError here, not in the stream.
   */
  diffs$(channel: unknown): Observable<ChannelDiff> {
    const presence = this.config.options.channelPresence;
    if (!presence) throw new PresenceError(CHANNEL_PRESENCE_OFF);
    const problem = channelProblem(channel, this.config.options.presenceChannel);
    if (problem) throw new PresenceError(problem);
    if (!presence.matches(channel as string)) throw new PresenceError(CHANNEL_WITHOUT_PRESENCE(channel as string));
    const published = presence.prefix + (channel as string);
    return new Observable<ChannelDiff>((subscriber) => {
      const exchange = this.host.get().exchange;
      const seen = this.observed.get(published) ?? { observers: 0, owned: !exchange.isSubscribed(published, true) };
      seen.observers++;
      this.observed.set(published, seen);
      const consumer = exchange.subscribe(published).createConsumer();
      void (async () => {
        for (let next = await consumer.next(); !next.done; next = await consumer.next()) subscriber.next(next.value as ChannelDiff);
      })();
      return () => {
        consumer.return();
        if (--seen.observers > 0) return;
        this.observed.delete(published);
        // A subscription the app made itself on the exchange stays.
        if (seen.owned) void exchange.unsubscribe(published);
      };
    });
  }

  /**
   * The answer to `presence.members`: the members as of diff `seq`; later diffs continue from there.
   * `settle` runs between the access check and the read (the tracker passes the wait for its own writes).
   */
  async members(socket: AGServerSocket, channel: unknown, settle?: () => Promise<void>): Promise<ChannelSnapshot> {
    const name = await checkChannelAccess(this.config.options, socket, channel);
    await settle?.();
    return this.snapshot(name);
  }

  async snapshot(channel: string): Promise<ChannelSnapshot> {
    return { channel, ...(await this.store.channelSnapshot(channel)) };
  }
}
