import type { UserStatus } from '../options/presence-options.interface.js';

/** Why a user's status changed. */
export type StatusReason = 'connect' | 'disconnect' | 'status' | 'auth' | 'instance-down' | 'cleanup';

export interface UserStatusEvent {
  type: 'user.online' | 'user.idle' | 'user.offline';
  userId: string;
  status: UserStatus;
  previousStatus: UserStatus;
  /** The socket whose change caused this one, when there is one. */
  socketId?: string;
  /** The instance of that socket (for 'instance-down', the instance that died). */
  instanceId: string;
  reason: StatusReason;
  at: Date;
}

export interface SessionEvent {
  type: 'session.connected' | 'session.disconnected';
  socketId: string;
  /** null for an anonymous socket. */
  userId: string | null;
  instanceId: string;
  ip: string | null;
  origin: string | null;
  at: Date;
}

/**
 * Rows were dropped by a cleanup. With `socketIds`: the sessions of instance `instanceId`, which died.
 * Without: a cold start (no other instance was alive, every old row was dropped): reset everyone to offline.
 */
export interface CleanupEvent {
  type: 'cleanup';
  instanceId?: string;
  socketIds?: string[];
  at: Date;
}

export type PresenceEvent = UserStatusEvent | SessionEvent | CleanupEvent;
export type PresenceEventType = PresenceEvent['type'];
