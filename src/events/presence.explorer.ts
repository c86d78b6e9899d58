import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { PresenceEvents } from './presence-events.service.js';
import { PresenceMetadataAccessor } from './presence-metadata.accessor.js';

/** Finds the methods decorated with `@OnUserOnline()` & co. in every provider and controller. */
@Injectable()
export class PresenceExplorer {
  private readonly logger = new Logger('PresenceModule');
  private explored = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: PresenceMetadataAccessor,
    private readonly events: PresenceEvents,
  ) {}

  explore(): void {
    if (this.explored) return;
    this.explored = true;
    const wrappers: InstanceWrapper[] = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      // An alias (useExisting) points at an instance that is visited under its own token.
      if (wrapper.isAlias) continue;
      const { instance } = wrapper;
      const prototype = instance && typeof instance === 'object' ? Object.getPrototypeOf(instance) : null;
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const types = this.accessor.getEventTypes(prototype[method]);
        if (types.length === 0) continue;
        const name = `${wrapper.name}.${method}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(`${name} is request-scoped (or depends on a request-scoped provider): presence hooks need a singleton, so it is skipped`);
          continue;
        }
        for (const type of new Set(types)) {
          this.events.on(type, name, (event) => (instance as Record<string, (e: unknown) => unknown>)[method](event));
        }
      }
    }
  }
}
