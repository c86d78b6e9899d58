import type { Member } from '../../src/client/index.js';
import type { PresenceService } from '../../src/index.js';

/** The service's answer for a room, in the shape of a client's members: one entry per user, online if any socket is. */
export async function serviceMembers(presence: PresenceService, channel: string): Promise<Member[]> {
  const byUser = new Map<string, Member['status']>();
  for (const session of await presence.getChannelMembers(channel)) {
    if (session.userId === null) continue;
    if (byUser.get(session.userId) !== 'online') byUser.set(session.userId, session.status);
  }
  return [...byUser].map(([userId, status]) => ({ userId, status })).sort((a, b) => (a.userId < b.userId ? -1 : 1));
}
