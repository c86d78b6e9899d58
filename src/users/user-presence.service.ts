import { Injectable, Logger } from '@nestjs/common';
import type { AGServerSocket } from 'socketcluster-server';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceError } from '../presence.errors.js';
import { USER_PRESENCE_OFF, WATCH_IDS_TYPE, WATCH_TOO_MANY } from '../presence.messages.js';
import type { StatusChange, UserPresenceMessage, WatchedUser } from '../presence.types.js';
import { checkUserAccess } from '../socketcluster/channel-access.check.js';
import { AgServerHost } from '../socketcluster/ag-server.host.js';
import { PresenceStore } from '../store/presence.store.js';

/**
 * Watched users. Each transition is published on `prefix + userId` by the instance that committed it (through
 * CommitEffects, so once in the cluster), reaching other instances' subscribers through SCC; `presence.users`
 * answers the current status from the status table. Only user ids, statuses and times leave the server.
 */
@Injectable()
export class UserPresence {
  private readonly logger = new Logger('UserPresence');

  constructor(
    private readonly config: PresenceConfig,
    private readonly store: PresenceStore,
    private readonly host: AgServerHost,
  ) {}

  publish(changes: readonly StatusChange[], at: Date): void {
    const users = this.config.options.userPresence;
    if (!users || changes.length === 0) return;
    const exchange = this.host.get().exchange;
    const time = at.toISOString();
    for (const { userId, from, to } of changes) {
      // Every transition happens at `at`: an offline user was last seen then, the others are being seen now.
      const message: UserPresenceMessage = { userId, status: to, previousStatus: from, lastSeen: time, at: time };
      exchange
        .transmitPublish(users.prefix + userId, message)
        .catch((error: Error) => this.logger.error(`publishing the presence of user '${userId}' failed: ${error.message}`));
    }
  }

  /**
   * The answer to `presence.users`: the status and last-seen time of each id, as stored. The whole call is
   * refused when the list is bad or the socket may not watch one of the ids, so an answer always covers every
   * id asked for. `settle` runs between the checks and the read (the tracker passes the wait for its own writes).
   */
  async statuses(socket: AGServerSocket, userIds: unknown, settle?: () => Promise<void>): Promise<Record<string, WatchedUser>> {
    const options = this.config.options;
    const users = options.userPresence;
    if (!users) throw new PresenceError(USER_PRESENCE_OFF);
    if (!Array.isArray(userIds)) throw new PresenceError(WATCH_IDS_TYPE);
    if (userIds.length > users.maxIds) throw new PresenceError(WATCH_TOO_MANY(users.maxIds));
    const ids = [...new Set(userIds as unknown[])];
    // Every id is checked for shape before any canWatch runs, so a malformed list costs the app no call.
    for (const id of ids) if (typeof id !== 'string') throw new PresenceError(WATCH_IDS_TYPE);
    const checked = await Promise.all(ids.map((id) => checkUserAccess(options, socket, id)));
    if (checked.length === 0) return {};
    await settle?.();
    const stored = await this.store.statuses(checked);
    const now = new Date().toISOString();
    return Object.fromEntries(
      checked.map((userId): [string, WatchedUser] => {
        const row = stored.get(userId);
        if (!row) return [userId, { status: 'offline', lastSeen: null }];
        return [userId, { status: row.status, lastSeen: row.status === 'offline' ? (row.lastSeen?.toISOString() ?? null) : now }];
      }),
    );
  }
}
