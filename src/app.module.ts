import { Module } from '@nestjs/common';
import { PresenceModule, type PresenceModuleOptions } from './index.js';
import { DemoModule } from './demo/demo.module.js';

/** The demo app: embedded SQLite by default, MySQL with DATABASE_URL, a cluster with SCC_STATE_SERVER_HOST. */
export function demoPresenceOptions(env: NodeJS.ProcessEnv = process.env): PresenceModuleOptions {
  const options: PresenceModuleOptions = {
    // Short periods so that the page shows changes at once.
    usercount: { startupQuietMs: 0, connectDelayMs: 500 },
    offlineGraceMs: 2000,
  };
  if (env.DATABASE_URL) options.database = { type: env.DATABASE_URL.startsWith('mariadb') ? 'mariadb' : 'mysql', url: env.DATABASE_URL };
  if (env.SCC_STATE_SERVER_HOST) {
    options.scc = { stateServerHost: env.SCC_STATE_SERVER_HOST, stateServerPort: Number(env.SCC_STATE_SERVER_PORT ?? 7777) };
  }
  return options;
}

@Module({
  imports: [PresenceModule.forRoot(demoPresenceOptions()), DemoModule],
})
export class AppModule {}
