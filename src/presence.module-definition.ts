import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PresenceModuleOptions } from './options/presence-options.interface.js';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<PresenceModuleOptions>({ moduleName: 'Presence' })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();
