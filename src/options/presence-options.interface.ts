import type { AGServer, AGServerSocket } from 'socketcluster-server';
import type { DataSourceOptions } from 'typeorm';

import type { UsercountType } from '../presence.types.js';

export interface UsercountOptions {
  /** Channel the count is published on (sc-presence: scpUsercountChannel). Default `'USERCOUNT'`. */
  channel?: string;
  /** What is counted (scpUsercountType). Default `'users'`. */
  type?: UsercountType;
  /** No publish this long after start, then one catch-up publish (scpBlockUsercountThreshold). Default 60000. */
  startupQuietMs?: number;
  /** Wait after a connect before publishing, so the new socket can subscribe first (scpConnectUpdateDelay). Default 3000. */
  connectDelayMs?: number;
}

export interface HeartbeatOptions {
  /** Rows are refreshed every `pingInterval × pingsPerUpdate` (scpSCPingsPerUpdate). Default 6. */
  pingsPerUpdate?: number;
}

export interface GcOptions {
  /** `true` / `false`, or `'auto'`: one elected instance runs GC (scpGcWorkerId). Default `'auto'`. */
  enabled?: boolean | 'auto';
  /** How often GC runs (scpGcInterval). Default 60000. */
  intervalMs?: number;
  /** Rows and instances silent this long are removed (scpGcThreshold). Default 120000. */
  thresholdMs?: number;
  /**
   * An offline user's status row (and with it the last-seen time) is kept this long after the user was last
   * seen, then pruned; channel counters of empty channels are pruned too. Default 30 days.
   */
  retentionMs?: number;
}

export interface LimitsOptions {
  /** Subscriptions one socket may hold; a subscribe past it is refused. Default 1000. */
  subscriptionsPerSocket?: number;
  /**
   * A socket's status changes are written at most once per this interval: a change within it is held until the
   * interval ends and only the last one is written; the same holds for its session state changes. Default 1000;
   * 0 writes every change.
   */
  statusIntervalMs?: number;
}

export interface SessionStateOptions {
  /**
   * Largest state accepted, in bytes of its `JSON.stringify` (UTF-8). Default 1024, at most 65535 (the column is
   * a TEXT).
   */
  maxBytes?: number;
}

type OwnDatabaseOptions = Extract<DataSourceOptions, { type: 'mysql' | 'mariadb' | 'better-sqlite3' }>;

/**
 * TypeORM connection options for `mysql`, `mariadb` or `better-sqlite3`, or `{ dataSourceName }` to reuse a
 * DataSource registered with @nestjs/typeorm (`TypeOrmModule.forRoot({ name })`, `'default'` for the unnamed one).
 */
export type PresenceDatabaseOptions =
  | (OwnDatabaseOptions & { migrationsRun?: boolean })
  | { dataSourceName: string; migrationsRun?: boolean };

export interface SccOptions {
  stateServerHost: string;
  stateServerPort?: number;
  /** Any other option of scc-broker-client's `attach()` (authKey, mappingEngine, clientPoolSize, …). */
  [option: string]: unknown;
}

export interface ChannelPresenceOptions {
  /** Which channels have presence. */
  channels: string[] | RegExp | ((channel: string) => boolean);
  /** Diffs of channel C are published on `prefix + C`. Default `'presence:'`. */
  prefix?: string;
  /** Who may see a channel's presence. Default: sockets subscribed to the channel itself. */
  canSubscribe?: (socket: AGServerSocket, channel: string) => boolean | Promise<boolean>;
}

export interface UserPresenceOptions {
  /** The transitions of user U are published on `prefix + U`. Default `'presence:user:'`. */
  prefix?: string;
  /** Who may watch whom (subscribe to `prefix + userId`, or ask `presence.users`). Default: any authenticated socket. */
  canWatch?: (socket: AGServerSocket, userId: string) => boolean | Promise<boolean>;
  /** Most user ids one `presence.users` call may ask for. Default 100. */
  maxIds?: number;
}

export interface HistoryOptions {
  /** Rows of sessions that ended longer ago than this are pruned by the GC instance. Default 30 days. */
  retentionMs?: number;
}

export interface PresenceModuleOptions {
  /** An existing AGServer. Without it the module attaches one to Nest's HTTP server at `/socketcluster/`. */
  server?: AGServer;
  /** Options of the AGServer the module attaches (pingInterval, pingTimeout, authKey, …). */
  socketcluster?: AGServer.AGServerOptions;
  /** Where sockets and subscriptions are stored. Default: embedded SQLite in memory. */
  database?: PresenceDatabaseOptions;
  /** sc-presence: scpDbTablename. Default `'SCPresence_users'`. */
  tableName?: string;
  /** Property of the verified auth token that is the user id (scpUserIdField). Default `'user_id'`. */
  userIdField?: string;
  /** Channel name of each socket's own presence row (scpPresenceChannel). Default `'_SCPRESENCE'`. */
  presenceChannel?: string;
  /** The user count publisher; `false` turns it off. */
  usercount?: UsercountOptions | false;
  heartbeat?: HeartbeatOptions;
  gc?: GcOptions;
  /** A user whose last session closed goes offline only if no session returns within this. Default 0. */
  offlineGraceMs?: number;
  /** Attach scc-broker-client so that publishes reach every instance. */
  scc?: SccOptions;
  /** Make PresenceService injectable everywhere. Default `true`. */
  isGlobal?: boolean;
  /** Per-channel presence (who is in a room). Default `false`. */
  channelPresence?: ChannelPresenceOptions | false;
  /** Watched users (friend lists): each user's transitions on a channel of its own. Default `false`. */
  userPresence?: UserPresenceOptions | false;
  /**
   * Where the auth token's JSON is stored: `'presence-row'` (the socket's own row only; its channel rows hold
   * NULL) or `false` (nowhere). Default `'presence-row'`.
   */
  storeAuthToken?: 'presence-row' | false;
  /** One row per ended session in `<tableName>_history`, for `getSessionHistory` and your own SQL. Default `false`. */
  history?: HistoryOptions | false;
  /** A small JSON object per session (`presence.setState`), shown with the session and in channel presence. `false` turns it off. */
  sessionState?: SessionStateOptions | false;
  /** Bounds on what one socket can make the module store and do. */
  limits?: LimitsOptions;
  /**
   * Socket changes are written in one batch once they pause this long, and a change waits at most 3 × this (a
   * leave: a close, an unsubscribe, a logout, 2 ×) for its batch to start (counted from the change, so a batch
   * that built up during a long write starts as soon as that write is done). In a storm (50 sockets or more
   * waiting) joins wait up to 10 ×, and a batch of 2,000 sockets starts at once. Default 20 ms.
   */
  flushIntervalMs?: number;
  /**
   * Bound on every database statement and connection attempt on MySQL/MariaDB. A connection that passes it is
   * destroyed, never handed out again, and the work is retried on a new one. Default 5000.
   */
  statementTimeoutMs?: number;
  /** Bound on a whole transaction (a flush, a GC pass's reap, a shutdown's delete). Default 15000. */
  transactionTimeoutMs?: number;
  /**
   * Bound on `app.close()` (and so on SIGTERM with shutdown hooks): rows that could not be deleted by then are
   * left to the GC of another instance or to the next cold start. Default 10000.
   */
  shutdownTimeoutMs?: number;
}
