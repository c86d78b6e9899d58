/**
 * `nestjs-sc-presence/client`: for browsers and Node. It imports no server code (only the procedure name), so a
 * bundler pulls in neither Nest nor TypeORM.
 */
export {
  createPresenceClient, DEFAULT_USERCOUNT_CHANNEL, isPresenceError, PresenceClient, type PresenceClientOptions,
} from './presence.client.js';
export {
  ACTIVITY_EVENTS, DEFAULT_IDLE_AFTER_MS, IdleMonitor, type DocumentLike, type EventTargetLike, type IdleClock,
  type IdleMonitorOptions, type ListenerOptionsLike, type PresenceClientStatus,
} from './idle.monitor.js';
export { SET_STATE_PROCEDURE, SET_STATUS_PROCEDURE, USERS_PROCEDURE } from '../presence.constants.js';
// Type-only: erased from the bundle, so the client still pulls in no server code.
export type {
  ChannelDiff, ChannelSnapshot, Member, SessionStatus, UserPresenceMessage, UserStatus, WatchedUser,
} from '../presence.types.js';
