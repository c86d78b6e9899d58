export { PresenceModule } from './presence.module.js';
export { PresenceService, type SessionHistoryQuery, type UserStatusDetails } from './presence.service.js';
export {
  OnPresenceCleanup, OnSessionConnected, OnSessionDisconnected, OnUserIdle, OnUserOffline, OnUserOnline,
} from './events/presence.decorators.js';
export { PresenceError, PresenceConfigError, PresenceDatabaseError } from './presence.errors.js';
export { fromScPresenceOptions, type ScPresenceOptions } from './options/sc-presence-options.mapper.js';
export type {
  ChannelPresenceOptions, GcOptions, HeartbeatOptions, HistoryOptions, PresenceDatabaseOptions, PresenceModuleOptions, SccOptions,
  SessionStateOptions, UsercountOptions, UserPresenceOptions,
} from './options/presence-options.interface.js';
export type {
  ChannelDiff, ChannelSnapshot, CleanupEvent, HistoryReason, Member, PresenceEvent, PresenceEventType, PresenceSession, SessionEvent,
  SessionHistoryEntry, SessionStatus, StatusReason, UserStatus, UserStatusEvent, UsercountType, UserPresenceMessage, WatchedUser,
} from './presence.types.js';
export { SocketClusterAdapter } from './socketcluster/socketcluster.adapter.js';
export { createPresenceEntity, type PresenceRecord } from './store/presence.entity.js';
export { PresenceSchema1732406400000 } from './store/migrations/1732406400000-presence-schema.js';
export { presenceMigrations } from './store/migrations/index.js';
export { presenceTableNames } from './store/presence.tables.js';
export { MEMBERS_PROCEDURE, SET_STATE_PROCEDURE, SET_STATUS_PROCEDURE, USERS_PROCEDURE } from './presence.constants.js';
