import { type DynamicModule, Module } from '@nestjs/common';
import { DEMO_ASSETS, DemoController } from './demo.controller.js';
import { loadDemoAssets } from './demo-assets.js';
import { DEMO_CONFIG, demoConfig, type DemoConfig } from './demo.config.js';
import { DemoLiveService } from './demo-live.service.js';
import { PresenceApiController } from './presence-api.controller.js';

/**
 * The "who is online" page at `/`, its live side on the SocketCluster server, and the presence HTTP API under
 * `/presence/`. Needs `PresenceModule` (global) in the same app.
 */
@Module({})
export class DemoModule {
  static register(config: DemoConfig = demoConfig()): DynamicModule {
    return {
      module: DemoModule,
      controllers: [DemoController, PresenceApiController],
      providers: [
        { provide: DEMO_CONFIG, useValue: config },
        { provide: DEMO_ASSETS, useFactory: loadDemoAssets },
        DemoLiveService,
      ],
    };
  }
}
