import type { AGServerSocket } from 'socketcluster-server';
import {
  MAX_AUTH_TOKEN_JSON_LENGTH, MAX_CHANNEL_LENGTH, MAX_IP_LENGTH, MAX_ORIGIN_LENGTH, MAX_USER_ID_LENGTH,
} from '../presence.constants.js';

/**
 * The user id of a verified auth token: a non-empty string of at most 255 characters, or a finite number
 * (stored as its decimal text). Anything else (object, array, boolean, a longer string) is not a user id:
 * the socket is tracked as anonymous and `problem` says why, rather than storing a key that was cut short.
 */
export function userIdOf(token: unknown, field: string): { userId: string | null; problem?: string } {
  if (token === null || typeof token !== 'object') return { userId: null };
  const value = (token as Record<string, unknown>)[field];
  if (value === undefined || value === null) return { userId: null };
  if (typeof value === 'number' && Number.isFinite(value)) return { userId: String(value) };
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_ID_LENGTH) return { userId: value };
  const what = typeof value === 'string' ? `a string of ${value.length} characters` : Array.isArray(value) ? 'an array' : typeof value;
  return {
    userId: null,
    problem: `auth token field '${field}' is ${what}; a user id must be a finite number or a string of 1 to ${MAX_USER_ID_LENGTH} characters`,
  };
}

/** The token payload as JSON, or null when it cannot be serialised or is larger than the column should hold. */
export function tokenJsonOf(token: unknown): string | null {
  if (token === null || token === undefined) return null;
  try {
    const json = JSON.stringify(token);
    return json !== undefined && json.length <= MAX_AUTH_TOKEN_JSON_LENGTH ? json : null;
  } catch {
    return null; // cycles or BigInt: a token SocketCluster could not have sent anyway
  }
}

/** IP and Origin are informational columns, not keys: a longer value than the column is cut to fit. */
export function ipOf(socket: AGServerSocket): string | null {
  const ip = socket.forwardedForAddress ?? socket.remoteAddress;
  return typeof ip === 'string' ? ip.slice(0, MAX_IP_LENGTH) : null;
}

export function originOf(socket: AGServerSocket): string | null {
  const origin = socket.request?.headers?.origin;
  return typeof origin === 'string' ? origin.slice(0, MAX_ORIGIN_LENGTH) : null;
}

/** Why a channel cannot be stored, or null when it can. Names are never truncated: a key cut short is a different key. */
export function channelProblem(channel: unknown, presenceChannel: string): string | null {
  if (typeof channel !== 'string' || channel.length === 0) return 'a channel name must be a non-empty string';
  if (channel.length > MAX_CHANNEL_LENGTH) {
    return `channel names are limited to ${MAX_CHANNEL_LENGTH} characters (this one has ${channel.length})`;
  }
  if (channel === presenceChannel) return `'${presenceChannel}' is reserved for presence rows`;
  return null;
}
