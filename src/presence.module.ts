import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { PresenceEvents } from './events/presence-events.service.js';
import { PresenceMetadataAccessor } from './events/presence-metadata.accessor.js';
import { PresenceExplorer } from './events/presence.explorer.js';
import { CommitEffects } from './effects/commit.effects.js';
import { ChannelPresence } from './channels/channel-presence.service.js';
import { PresenceGc } from './cluster/presence-gc.service.js';
import { PresenceHeartbeat } from './cluster/presence-heartbeat.service.js';
import { PresenceInstance } from './store/presence.instance.js';
import { PresenceScc } from './cluster/presence-scc.service.js';
import { PresenceConfig } from './options/presence.config.js';
import { ConfigurableModuleClass } from './presence.module-definition.js';
import { PresenceOrchestrator } from './presence.orchestrator.js';
import { PresenceService } from './presence.service.js';
import { AgServerHost } from './socketcluster/ag-server.host.js';
import { LiveSessions } from './tracker/live-sessions.registry.js';
import { PresenceTracker } from './tracker/presence.tracker.js';
import { PresenceStore } from './store/presence.store.js';
import { PresenceWriter } from './tracker/presence.writer.js';
import { UsercountPublisher } from './usercount/usercount.publisher.js';
import { UserPresence } from './users/user-presence.service.js';

/**
 * Tracks every SocketCluster socket and subscription in a shared table.
 *
 * ```ts
 * PresenceModule.forRoot({ database: { type: 'mysql', url: process.env.DATABASE_URL } })
 * PresenceModule.forRootAsync({ inject: [ConfigService], useFactory: (config) => ({ … }) })
 * ```
 */
@Module({
  imports: [ScheduleModule.forRoot(), DiscoveryModule],
  providers: [
    PresenceConfig,
    PresenceInstance,
    PresenceStore,
    LiveSessions,
    PresenceWriter,
    AgServerHost,
    PresenceTracker,
    UsercountPublisher,
    PresenceHeartbeat,
    PresenceGc,
    PresenceScc,
    PresenceEvents,
    PresenceMetadataAccessor,
    PresenceExplorer,
    CommitEffects,
    ChannelPresence,
    UserPresence,
    PresenceOrchestrator,
    PresenceService,
  ],
  exports: [PresenceService, AgServerHost],
})
export class PresenceModule extends ConfigurableModuleClass {}
