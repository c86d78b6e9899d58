/**
 * The presence events as the page sees them: a whitelist of fields, so nothing else a hook receives (the IP
 * address and Origin of a session, socket ids, auth tokens) ever leaves the server. Served to the browser too,
 * which checks what arrives with `parseDemoEvent`: the app refuses client publishes, but a page should not
 * depend on every server it talks to being set up that way.
 */
import type { PresenceEvent } from 'nestjs-sc-presence';

type UserStatus = 'online' | 'idle' | 'offline';
type Reason = 'connect' | 'disconnect' | 'status' | 'auth' | 'instance-down' | 'cleanup';

export type DemoEvent =
  | { type: 'user.online' | 'user.idle' | 'user.offline'; userId: string; status: UserStatus; previousStatus: UserStatus; reason: Reason; at: string }
  | { type: 'session.connected' | 'session.disconnected'; userId: string | null; at: string }
  | { type: 'cleanup'; coldStart: boolean; sockets: number; at: string };

const STATUSES: readonly string[] = ['online', 'idle', 'offline'];
const REASONS: readonly string[] = ['connect', 'disconnect', 'status', 'auth', 'instance-down', 'cleanup'];

export function sanitizeEvent(event: PresenceEvent): DemoEvent {
  const at = event.at instanceof Date ? event.at.toISOString() : new Date().toISOString();
  switch (event.type) {
    case 'user.online':
    case 'user.idle':
    case 'user.offline':
      return { type: event.type, userId: event.userId, status: event.status, previousStatus: event.previousStatus, reason: event.reason, at };
    case 'session.connected':
    case 'session.disconnected':
      return { type: event.type, userId: event.userId, at };
    case 'cleanup':
      return { type: 'cleanup', coldStart: !event.socketIds, sockets: event.socketIds?.length ?? 0, at };
  }
}

function isUserId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 255;
}

function isTime(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 40 && !Number.isNaN(Date.parse(value));
}

/** The event if `value` is one, with exactly the whitelisted fields; otherwise null. */
export function parseDemoEvent(value: unknown): DemoEvent | null {
  if (typeof value !== 'object' || value === null) return null;
  const e = value as Record<string, unknown>;
  if (!isTime(e.at)) return null;
  switch (e.type) {
    case 'user.online':
    case 'user.idle':
    case 'user.offline':
      if (!isUserId(e.userId) || typeof e.status !== 'string' || typeof e.previousStatus !== 'string') return null;
      if (!STATUSES.includes(e.status) || !STATUSES.includes(e.previousStatus) || typeof e.reason !== 'string' || !REASONS.includes(e.reason)) return null;
      if (e.type !== `user.${e.status}`) return null;
      return { type: e.type, userId: e.userId, status: e.status as UserStatus, previousStatus: e.previousStatus as UserStatus, reason: e.reason as Reason, at: e.at };
    case 'session.connected':
    case 'session.disconnected':
      if (e.userId !== null && !isUserId(e.userId)) return null;
      return { type: e.type, userId: e.userId, at: e.at };
    case 'cleanup':
      if (typeof e.coldStart !== 'boolean' || typeof e.sockets !== 'number' || !Number.isSafeInteger(e.sockets) || e.sockets < 0) return null;
      return { type: 'cleanup', coldStart: e.coldStart, sockets: e.sockets, at: e.at };
    default:
      return null;
  }
}
