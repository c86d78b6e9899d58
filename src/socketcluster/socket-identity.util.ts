import type { AGServerSocket } from 'socketcluster-server';
import {
  MAX_AUTH_TOKEN_JSON_LENGTH, MAX_CHANNEL_LENGTH, MAX_IP_LENGTH, MAX_ORIGIN_LENGTH, MAX_USER_ID_LENGTH,
} from '../presence.constants.js';

/**
 * False for text with a lone UTF-16 surrogate. Such text cannot be stored as it is: the drivers write U+FFFD in
 * its place, so what the table holds would differ from what was written (and two such names would collide).
 */
export function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** The text with each lone surrogate replaced by U+FFFD, as the drivers store it. */
export function toWellFormed(text: string): string {
  return (text as string & { toWellFormed(): string }).toWellFormed();
}

/** Cuts informational text to `max` code units without leaving half a surrogate pair, and replaces lone ones. */
function fitted(text: string, max: number): string {
  let cut = text.length > max ? text.slice(0, max) : text;
  if (cut.length === max && /[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return toWellFormed(cut);
}

/**
 * The user id of a verified auth token: a non-empty, well-formed string of at most 255 characters, or a finite number
 * (stored as its decimal text). Anything else (object, array, boolean, a longer string) is not a user id:
 * the socket is tracked as anonymous and `problem` says why, rather than storing a key that was cut short.
 */
export function userIdOf(token: unknown, field: string): { userId: string | null; problem?: string } {
  if (token === null || typeof token !== 'object') return { userId: null };
  const value = (token as Record<string, unknown>)[field];
  if (value === undefined || value === null) return { userId: null };
  if (typeof value === 'number' && Number.isFinite(value)) return { userId: String(value) };
  const fits = typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_ID_LENGTH;
  if (fits && isWellFormed(value)) return { userId: value };
  const what = fits
    ? 'a string with a lone UTF-16 surrogate (not well-formed Unicode)'
    : typeof value === 'string' ? `a string of ${value.length} characters` : Array.isArray(value) ? 'an array' : typeof value;
  return {
    userId: null,
    problem: `auth token field '${field}' is ${what}; a user id must be a finite number or a well-formed string of 1 to ${MAX_USER_ID_LENGTH} characters`,
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

/**
 * IP and Origin are informational columns, not keys: a longer value than the column is cut to fit, and a lone
 * surrogate becomes U+FFFD here rather than in the driver.
 */
export function ipOf(socket: AGServerSocket): string | null {
  const ip = socket.forwardedForAddress ?? socket.remoteAddress;
  return typeof ip === 'string' ? fitted(ip, MAX_IP_LENGTH) : null;
}

export function originOf(socket: AGServerSocket): string | null {
  const origin = socket.request?.headers?.origin;
  return typeof origin === 'string' ? fitted(origin, MAX_ORIGIN_LENGTH) : null;
}

/** Why a channel cannot be stored, or null when it can. Names are never truncated: a key cut short is a different key. */
export function channelProblem(channel: unknown, presenceChannel: string): string | null {
  if (typeof channel !== 'string' || channel.length === 0) return 'a channel name must be a non-empty string';
  if (channel.length > MAX_CHANNEL_LENGTH) {
    return `channel names are limited to ${MAX_CHANNEL_LENGTH} characters (this one has ${channel.length})`;
  }
  if (!isWellFormed(channel)) return 'a channel name must be well-formed Unicode (this one has a lone UTF-16 surrogate)';
  if (channel === presenceChannel) return `'${presenceChannel}' is reserved for presence rows`;
  return null;
}
