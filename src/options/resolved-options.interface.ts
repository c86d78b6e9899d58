import type { AGServer, AGServerSocket } from 'socketcluster-server';
import type { DataSourceOptions } from 'typeorm';
import type { UsercountType } from '../presence.types.js';
import type { SccOptions } from './presence-options.interface.js';

export type ResolvedDatabase =
  | { kind: 'own'; options: DataSourceOptions; migrationsRun: boolean }
  | { kind: 'shared'; dataSourceName: string; migrationsRun: boolean };

/** The options after validation, with every default applied (once, here). */
export interface ResolvedPresenceOptions {
  server?: AGServer;
  socketcluster: AGServer.AGServerOptions;
  database: ResolvedDatabase;
  tableName: string;
  userIdField: string;
  presenceChannel: string;
  usercount: false | { channel: string; type: UsercountType; startupQuietMs: number; connectDelayMs: number };
  heartbeat: { pingsPerUpdate: number; periodMs: number };
  gc: { enabled: boolean | 'auto'; intervalMs: number; thresholdMs: number; retentionMs: number };
  offlineGraceMs: number;
  scc?: SccOptions;
  channelPresence:
    | false
    | {
        matches: (channel: string) => boolean;
        prefix: string;
        canSubscribe?: (socket: AGServerSocket, channel: string) => boolean | Promise<boolean>;
      };
  userPresence:
    | false
    | { prefix: string; canWatch?: (socket: AGServerSocket, userId: string) => boolean | Promise<boolean>; maxIds: number };
  flushIntervalMs: number;
  statementTimeoutMs: number;
  transactionTimeoutMs: number;
  shutdownTimeoutMs: number;
  storeAuthToken: 'presence-row' | false;
  sessionState: false | { maxBytes: number };
  limits: { subscriptionsPerSocket: number; statusIntervalMs: number };
  history: false | { retentionMs: number };
}
