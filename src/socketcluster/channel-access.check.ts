import type { AGServerSocket } from 'socketcluster-server';
import type { ResolvedPresenceOptions } from '../options/resolved-options.interface.js';
import { PresenceError } from '../presence.errors.js';
import { MAX_USER_ID_LENGTH } from '../presence.constants.js';
import { channelProblem, isWellFormed, userIdOf } from './socket-identity.util.js';
import {
  ACCESS_ENDED, CHANNEL_NOT_ALLOWED, CHANNEL_PRESENCE_OFF, CHANNEL_SUBSCRIBE_FIRST, CHANNEL_WITHOUT_PRESENCE, USER_PRESENCE_OFF,
  WATCH_ANONYMOUS, WATCH_ENDED, WATCH_NOT_ALLOWED, WATCH_USER_ID,
} from '../presence.messages.js';

/**
 * May `socket` see the presence of `channel`? By default only a socket subscribed to the channel itself may;
 * `channelPresence.canSubscribe` replaces that rule. Throws a PresenceError saying why not.
 */
export async function checkChannelAccess(options: ResolvedPresenceOptions, socket: AGServerSocket, channel: unknown): Promise<string> {
  const presence = options.channelPresence;
  if (!presence) throw new PresenceError(CHANNEL_PRESENCE_OFF);
  const problem = channelProblem(channel, options.presenceChannel);
  if (problem) throw new PresenceError(problem);
  const name = channel as string;
  if (!presence.matches(name)) throw new PresenceError(CHANNEL_WITHOUT_PRESENCE(name));
  const allowed = presence.canSubscribe ? await presence.canSubscribe(socket, name) : socket.isSubscribed(name);
  if (allowed !== true) {
    throw new PresenceError(
      presence.canSubscribe ? CHANNEL_NOT_ALLOWED(name) : CHANNEL_SUBSCRIBE_FIRST(name),
    );
  }
  return name;
}

/**
 * May `socket` watch `userId` (subscribe to `userPresence.prefix + userId`, or ask for it in `presence.users`)?
 * By default any authenticated socket may; `userPresence.canWatch` replaces that rule for authenticated sockets.
 * Throws a PresenceError saying why not; a `canWatch` that throws is a refusal.
 */
export async function checkUserAccess(options: ResolvedPresenceOptions, socket: AGServerSocket, userId: unknown): Promise<string> {
  const users = options.userPresence;
  if (!users) throw new PresenceError(USER_PRESENCE_OFF);
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH || !isWellFormed(userId)) {
    throw new PresenceError(WATCH_USER_ID(MAX_USER_ID_LENGTH));
  }
  if (userIdOf(socket.authToken, options.userIdField).userId === null) throw new PresenceError(WATCH_ANONYMOUS);
  if (!users.canWatch) return userId;
  const allowed = await Promise.resolve()
    .then(() => users.canWatch!(socket, userId))
    .catch(() => false);
  if (allowed !== true) throw new PresenceError(WATCH_NOT_ALLOWED(userId));
  return userId;
}

/** A kind of presence channel the module publishes and guards: where its names start, who may see it. */
interface PresenceKind {
  prefixOf(options: ResolvedPresenceOptions): string | undefined;
  check(options: ResolvedPresenceOptions, socket: AGServerSocket, name: string): Promise<string>;
  ended(name: string, reason: string): string;
}

/**
 * User presence first: its prefix may lie inside the channel prefix (the defaults 'presence:user:' and
 * 'presence:' do), and the options resolver keeps channel presence out of the user prefix's names.
 */
const PRESENCE_KINDS: readonly PresenceKind[] = [
  { prefixOf: (o) => (o.userPresence ? o.userPresence.prefix : undefined), check: checkUserAccess, ended: WATCH_ENDED },
  { prefixOf: (o) => (o.channelPresence ? o.channelPresence.prefix : undefined), check: checkChannelAccess, ended: ACCESS_ENDED },
];

/** The kind of presence channel `channel` is, and what it is about (the channel or the user id after the prefix). */
function presenceChannelOf(options: ResolvedPresenceOptions, channel: string): { kind: PresenceKind; name: string } | undefined {
  for (const kind of PRESENCE_KINDS) {
    const prefix = kind.prefixOf(options);
    if (prefix !== undefined && channel.startsWith(prefix)) return { kind, name: channel.slice(prefix.length) };
  }
  return undefined;
}

/** True for a channel only the server publishes on: a channel's or a user's presence. */
export function isPresenceChannel(options: ResolvedPresenceOptions, channel: string): boolean {
  return presenceChannelOf(options, channel) !== undefined;
}

/**
 * The access check for a subscription to `channel`, or null when `channel` is no presence channel (then the
 * module has nothing to say about it).
 */
export function checkPresenceSubscription(options: ResolvedPresenceOptions, socket: AGServerSocket, channel: string): Promise<string> | null {
  const found = presenceChannelOf(options, channel);
  return found ? found.kind.check(options, socket, found.name) : null;
}

/**
 * Access to a presence channel is checked at subscribe, and again whenever what it depends on changes: the
 * socket left the channel itself, or its user changed. A presence subscription whose access has ended is
 * kicked out, with the reason as the kick-out message the client receives. `channels` limits the check to
 * the presence channels of those channels; without it, every presence subscription of the socket (channels'
 * and users') is checked.
 */
export async function revokeEndedAccess(options: ResolvedPresenceOptions, socket: AGServerSocket, channels?: string[]): Promise<void> {
  const presence = options.channelPresence;
  const candidates = channels ? (presence ? channels.map((channel) => presence.prefix + channel) : []) : socket.subscriptions();
  for (const watching of candidates) {
    const found = socket.isSubscribed(watching) ? presenceChannelOf(options, watching) : undefined;
    if (!found) continue;
    const reason = await found.kind.check(options, socket, found.name).then(
      () => null,
      (error: Error) => error.message,
    );
    if (reason !== null && socket.state === socket.OPEN && socket.isSubscribed(watching)) {
      await socket.kickOut(watching, found.kind.ended(found.name, reason));
    }
  }
}
