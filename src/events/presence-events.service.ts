import { Injectable, Logger } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { PresenceEvent, PresenceEventType } from '../presence.types.js';

interface Handler {
  name: string;
  call: (event: PresenceEvent) => unknown;
}

/**
 * Hands each event to the decorated handlers and to `events$`. Handlers are called in order of the events;
 * one that throws or rejects is logged and affects neither tracking nor the other handlers.
 */
@Injectable()
export class PresenceEvents {
  private readonly logger = new Logger('PresenceEvents');
  private readonly subject = new Subject<PresenceEvent>();
  private readonly handlers = new Map<PresenceEventType, Handler[]>();
  readonly events$: Observable<PresenceEvent> = this.subject.asObservable();

  on(type: PresenceEventType, name: string, call: (event: PresenceEvent) => unknown): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), { name, call }]);
  }

  emit(event: PresenceEvent): void {
    for (const handler of this.handlers.get(event.type) ?? []) {
      try {
        const result = handler.call(event);
        if (result instanceof Promise) result.catch((error: unknown) => this.failed(handler, event, error));
      } catch (error) {
        this.failed(handler, event, error);
      }
    }
    this.subject.next(event);
  }

  complete(): void {
    this.subject.complete();
  }

  private failed(handler: Handler, event: PresenceEvent, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    this.logger.error(`${handler.name} failed on '${event.type}': ${err.message}`, err.stack);
  }
}
