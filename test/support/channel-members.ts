import type { Member } from '../../src/client/index.js';
import type { PresenceService } from '../../src/index.js';

/** A member compared across sources: session states as canonical JSON (keys sorted), sorted. */
export interface ComparableMember {
  userId: string;
  status: Member['status'];
  states: string[];
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const byUserId = (a: { userId: string }, b: { userId: string }) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);

/** A client's members in the shape `serviceMembers` answers. */
export function comparable(members: readonly Member[] | undefined): ComparableMember[] | undefined {
  return members
    ?.map((m) => ({ userId: m.userId, status: m.status, states: ((m as { states?: unknown[] }).states ?? []).map(canonical).sort() }))
    .sort(byUserId);
}

/**
 * The service's answer for a room, in the shape of a client's members: one entry per user, online if any of
 * their sockets in the room is, with the states of those sockets that have one.
 */
export async function serviceMembers(presence: PresenceService, channel: string): Promise<ComparableMember[]> {
  const byUser = new Map<string, ComparableMember>();
  for (const session of await presence.getChannelMembers(channel)) {
    if (session.userId === null) continue;
    const member = byUser.get(session.userId) ?? { userId: session.userId, status: session.status, states: [] };
    if (session.status === 'online') member.status = 'online';
    const state = (session as { state?: unknown }).state;
    if (state !== undefined && state !== null) member.states.push(canonical(state));
    byUser.set(session.userId, member);
  }
  return [...byUser.values()].map((m) => ({ ...m, states: m.states.sort() })).sort(byUserId);
}
