/** What the cluster fixtures and the tests that spawn them agree on. */

/** Lines a fixture writes for the test start with this; everything else on stdout is plain log output. */
export const FIXTURE_LINE_PREFIX = '@@presence ';

/** How a presence instance process is configured (JSON in its PRESENCE_INSTANCE environment variable). */
export interface InstanceConfig {
  /** MySQL / MariaDB URL; ignored with `sqliteFile`. */
  databaseUrl: string;
  /** A SQLite file instead, shared by the instances of one host. */
  sqliteFile?: string;
  tableName: string;
  /** socketcluster `authKey`: the same for every instance, so a token signed by one verifies on all. */
  authKey: string;
  scc?: { host: string; port: number };
  /** Turns on user presence (default options). */
  userPresence?: boolean;
  /** Channels with channel presence. */
  channelPresence?: string[];
  /** Channels whose diffs the instance follows with `PresenceService.channelDiffs$`, one `diff` line each. */
  observeChannels?: string[];
}

/** One socket as the instance's SocketCluster server sees it (GET /fixture/sockets). */
export interface LiveSocketView {
  id: string;
  userId: string | null;
  channels: string[];
}
