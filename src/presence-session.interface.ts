import type { SessionStatus, UserStatus, UsercountType } from './options/presence-options.interface.js';

export type { SessionStatus, UserStatus, UsercountType };

/** One socket as stored: what any instance can tell about a session, wherever it is connected. */
export interface PresenceSession {
  socketId: string;
  /** From the verified auth token; null for an anonymous socket. */
  userId: string | null;
  status: SessionStatus;
  /** Channels the socket is subscribed to. */
  channels: string[];
  /** The instance the socket is connected to. */
  instanceId: string;
  ip: string | null;
  origin: string | null;
  connectedAt: Date;
  updatedAt: Date;
}
