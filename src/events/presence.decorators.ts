import { PRESENCE_EVENT_METADATA } from './presence-events.constants.js';
import type { PresenceEventType } from '../presence.types.js';

/** Several decorators may sit on one method: each adds its event type to the method's list. */
function onPresenceEvent(type: PresenceEventType): MethodDecorator {
  return (_target, _key, descriptor) => {
    const types: PresenceEventType[] = Reflect.getMetadata(PRESENCE_EVENT_METADATA, descriptor.value as object) ?? [];
    Reflect.defineMetadata(PRESENCE_EVENT_METADATA, [...types, type], descriptor.value as object);
    return descriptor;
  };
}

/** The user went online: some session of theirs is online (and none was before). Receives a UserStatusEvent. */
export const OnUserOnline = (): MethodDecorator => onPresenceEvent('user.online');
/** Every session of the user is idle now. Receives a UserStatusEvent. */
export const OnUserIdle = (): MethodDecorator => onPresenceEvent('user.idle');
/** The user has no session left (after `offlineGraceMs`). Receives a UserStatusEvent. */
export const OnUserOffline = (): MethodDecorator => onPresenceEvent('user.offline');
/** A socket connected to this instance. Receives a SessionEvent. */
export const OnSessionConnected = (): MethodDecorator => onPresenceEvent('session.connected');
/** A socket of this instance closed. Receives a SessionEvent. */
export const OnSessionDisconnected = (): MethodDecorator => onPresenceEvent('session.disconnected');
/** Rows were dropped: a dead instance's sessions, or everything at a cold start. Receives a CleanupEvent. */
export const OnPresenceCleanup = (): MethodDecorator => onPresenceEvent('cleanup');
