import type { SessionStatus, StatusChange, UserStatus } from '../presence.types.js';

/** The status of one or more sessions, `online` of which are online. */
export function sessionsStatus(online: number): SessionStatus {
  return online > 0 ? 'online' : 'idle';
}

/**
 * The status of a set of sessions (a user's, or a user's in one channel): online if any is online, idle if
 * all are idle, offline if there are none.
 */
export function aggregateStatus(online: number, sessions: number): UserStatus {
  return sessions > 0 ? sessionsStatus(online) : 'offline';
}

export interface StatusDecision {
  changes: StatusChange[];
  /** Users left without sessions who keep their status for the offline grace. */
  deferred: string[];
}

/**
 * Compares each user's stored status with what their sessions give now (`live`; a user with no session is
 * absent). With `deferOffline`, a user who would go offline is deferred instead, unless already offline.
 */
export function decideTransitions(
  stored: ReadonlyArray<{ userId: string; status: UserStatus }>,
  live: ReadonlyMap<string, UserStatus>,
  deferOffline: boolean,
): StatusDecision {
  const decision: StatusDecision = { changes: [], deferred: [] };
  for (const { userId, status: from } of stored) {
    const to: UserStatus = live.get(userId) ?? 'offline';
    if (to === 'offline' && deferOffline && from !== 'offline') decision.deferred.push(userId);
    else if (to !== from) decision.changes.push({ userId, from, to });
  }
  return decision;
}
