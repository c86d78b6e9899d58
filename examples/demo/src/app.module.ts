import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { PresenceModule, type PresenceModuleOptions } from 'nestjs-sc-presence';
import { demoConfig } from './demo.config.js';
import { PRESENCE_PREFIX, ROOM_PREFIX } from './demo.constants.js';
import { DemoModule } from './demo.module.js';

/**
 * Presence options of the demo app:
 * - embedded SQLite in memory, or MySQL / MariaDB with `DATABASE_URL=mysql://user:password@host:3306/db`;
 * - channel presence for the rooms (`room:<name>`), and watched users;
 * - no client publishes: every channel the page reads is written by the server;
 * - `AUTH_KEY`: the key that signs SocketCluster auth tokens. Without it a random key is made per process, which
 *   is fine for one instance; every instance of a cluster needs the same `AUTH_KEY`;
 * - `SCC_STATE_SERVER_HOST` / `SCC_STATE_SERVER_PORT` (default 7777) / `SCC_AUTH_KEY`: join an SCC cluster.
 */
export function demoPresenceOptions(env: NodeJS.ProcessEnv = process.env): PresenceModuleOptions {
  const options: PresenceModuleOptions = {
    // The page only subscribes: a client publish (a forged `demo:events`, a fake room message) is refused by
    // SocketCluster itself, before any middleware.
    socketcluster: { authKey: env.AUTH_KEY || randomAuthKey(), allowClientPublish: false },
    // Short periods so that the page shows changes at once.
    usercount: { startupQuietMs: 0, connectDelayMs: 500 },
    offlineGraceMs: 2000,
    // Who is in each room (channel `room:<name>`), live: diffs on `presence:room:<name>`.
    channelPresence: { channels: (channel) => channel.startsWith(ROOM_PREFIX), prefix: PRESENCE_PREFIX },
    // Anyone signed in may follow anyone (the page's "Watching" list): transitions on `presence:user:<name>`.
    userPresence: {},
  };
  if (env.DATABASE_URL) {
    options.database = { type: env.DATABASE_URL.startsWith('mariadb') ? 'mariadb' : 'mysql', url: env.DATABASE_URL };
  }
  if (env.SCC_STATE_SERVER_HOST) {
    options.scc = { stateServerHost: env.SCC_STATE_SERVER_HOST, stateServerPort: Number(env.SCC_STATE_SERVER_PORT || 7777) };
    if (env.SCC_AUTH_KEY) options.scc.authKey = env.SCC_AUTH_KEY;
  }
  return options;
}

function randomAuthKey(): string {
  new Logger('Demo').warn('AUTH_KEY is not set: auth tokens are signed with a random key of this process (set the same AUTH_KEY on every instance of a cluster)');
  return randomBytes(32).toString('hex');
}

/** The demo app (`npm start`): presence plus the "who is online" page and its HTTP API. */
@Module({})
export class AppModule {
  /** The app configured from environment variables (see `demoPresenceOptions` and `demoConfig`). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, overrides: PresenceModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [PresenceModule.forRoot({ ...demoPresenceOptions(env), ...overrides }), DemoModule.register(demoConfig(env))],
    };
  }
}
