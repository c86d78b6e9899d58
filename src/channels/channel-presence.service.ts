import { Injectable, Logger } from '@nestjs/common';
import type { AGServerSocket } from 'socketcluster-server';
import { PresenceConfig } from '../options/presence.config.js';
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
