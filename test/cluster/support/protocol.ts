/** What the cluster fixtures and the tests that spawn them agree on. */

/** Lines a fixture writes for the test start with this; everything else on stdout is plain log output. */
export const FIXTURE_LINE_PREFIX = '@@presence ';

/** How a presence instance process is configured (JSON in its PRESENCE_INSTANCE environment variable). */
export interface InstanceConfig {
  databaseUrl: string;
  tableName: string;
  /** socketcluster `authKey`: the same for every instance, so a token signed by one verifies on all. */
  authKey: string;
  scc?: { host: string; port: number };
  /** The source of a RegExp: channel presence for the channels it matches. Off without. */
  channelPresence?: string;
}

/** One socket as the instance's SocketCluster server sees it (GET /fixture/sockets). */
export interface LiveSocketView {
  id: string;
  userId: string | null;
  channels: string[];
}
