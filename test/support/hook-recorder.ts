import { Injectable } from '@nestjs/common';
import {
  OnPresenceCleanup, OnSessionConnected, OnSessionDisconnected, OnUserIdle, OnUserOffline, OnUserOnline,
  type PresenceEvent,
} from '../../src/index.js';

/** Records every hook call, in order, to count them exactly. */
@Injectable()
export class HookRecorder {
  readonly events: PresenceEvent[] = [];

  @OnUserOnline()
  @OnUserIdle()
  @OnUserOffline()
  onUser(event: PresenceEvent): void {
    this.events.push(event);
  }

  @OnSessionConnected()
  @OnSessionDisconnected()
  onSession(event: PresenceEvent): void {
    this.events.push(event);
  }

  @OnPresenceCleanup()
  onCleanup(event: PresenceEvent): void {
    this.events.push(event);
  }

  /** `user.online:alice:connect`-style lines for the user events, optionally of one user. */
  userLines(userId?: string): string[] {
    return this.events
      .filter((e): e is Extract<PresenceEvent, { userId: string; reason: string }> => e.type.startsWith('user.'))
      .filter((e) => userId === undefined || e.userId === userId)
      .map((e) => `${e.type}:${e.userId}:${e.reason}`);
  }

  clear(): void {
    this.events.length = 0;
  }
}
