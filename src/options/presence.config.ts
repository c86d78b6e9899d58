import { Inject, Injectable } from '@nestjs/common';
import { MODULE_OPTIONS_TOKEN } from '../presence.module-definition.js';
import type { PresenceModuleOptions } from './presence-options.interface.js';
import type { ResolvedPresenceOptions } from './resolved-options.interface.js';
import { resolvePresenceOptions } from './presence-options.resolver.js';

/**
 * Holds the options, validated and completed once. A validation error is kept and thrown on first use,
 * which is `app.init()`: throwing while Nest instantiates providers would make `NestFactory.create()` exit
 * the process instead of letting the caller see the message.
 */
@Injectable()
export class PresenceConfig {
  private readonly resolved?: ResolvedPresenceOptions;
  private readonly error?: unknown;

  constructor(@Inject(MODULE_OPTIONS_TOKEN) raw: PresenceModuleOptions) {
    try {
      this.resolved = resolvePresenceOptions(raw);
    } catch (error) {
      this.error = error;
    }
  }

  get options(): ResolvedPresenceOptions {
    if (this.error !== undefined) throw this.error;
    return this.resolved!;
  }
}
