import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PresenceModuleOptions } from './options/presence-options.interface.js';
import { describeValue } from './options/describe-value.util.js';
import { PresenceConfigError } from './presence.errors.js';
import { IS_GLOBAL_TYPE } from './presence.messages.js';

/**
 * `isGlobal` is an extra of the module definition: Nest takes it out of the options before they are resolved,
 * so it is checked here, when forRoot() / forRootAsync() is called.
 */
function globalOf(isGlobal: unknown): boolean {
  if (typeof isGlobal !== 'boolean') throw new PresenceConfigError([IS_GLOBAL_TYPE(describeValue(isGlobal))]);
  return isGlobal;
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<PresenceModuleOptions>({ moduleName: 'Presence' })
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: globalOf(extras.isGlobal) }))
    .build();
