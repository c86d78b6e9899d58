import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PRESENCE_EVENT_METADATA } from './presence-events.constants.js';
import type { PresenceEventType } from '../presence.types.js';

@Injectable()
export class PresenceMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  getEventTypes(target: unknown): PresenceEventType[] {
    if (typeof target !== 'function') return [];
    return this.reflector.get<PresenceEventType[] | undefined>(PRESENCE_EVENT_METADATA, target) ?? [];
  }
}
