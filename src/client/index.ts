/**
 * `nestjs-sc-presence/client`: for browsers and Node. It imports no server code (only the procedure name), so a
 * bundler pulls in neither Nest nor TypeORM.
 */
export {
  createPresenceClient, DEFAULT_USERCOUNT_CHANNEL, isPresenceError, PresenceClient,
  type PresenceClientOptions, type PresenceClientState,
} from './presence.client.js';
export { ChannelFollower, DEFAULT_CHANNEL_PRESENCE_PREFIX, type ChannelFollowOptions } from './channel.follower.js';
export { ChannelSync, type ChannelView, type DiffOutcome } from './channel.sync.js';
export { DEFAULT_USER_PRESENCE_PREFIX, UsersFollower, type UsersFollowOptions } from './users.follower.js';
export { UsersSync, type WatchedUsers } from './users.sync.js';
export {
  ACTIVITY_EVENTS, DEFAULT_IDLE_AFTER_MS, IdleMonitor, type DocumentLike, type EventTargetLike, type IdleClock,
  type IdleMonitorOptions, type ListenerOptionsLike, type PresenceClientStatus,
} from './idle.monitor.js';
export { MEMBERS_PROCEDURE, SET_STATE_PROCEDURE, SET_STATUS_PROCEDURE, USERS_PROCEDURE } from '../presence.constants.js';
// Type-only: erased from the bundle, so the client still pulls in no server code.
export type {
  ChannelDiff, ChannelSnapshot, Member, SessionStatus, UserPresenceMessage, UserStatus, WatchedUser,
} from '../presence.types.js';
