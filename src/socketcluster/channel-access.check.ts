import type { AGServerSocket } from 'socketcluster-server';
import type { ResolvedPresenceOptions } from '../options/resolved-options.interface.js';
import { PresenceError } from '../presence.errors.js';
import { channelProblem } from './socket-identity.util.js';
import { ACCESS_ENDED, CHANNEL_NOT_ALLOWED, CHANNEL_PRESENCE_OFF, CHANNEL_SUBSCRIBE_FIRST, CHANNEL_WITHOUT_PRESENCE } from '../presence.messages.js';

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
 * Access to a channel's presence is checked at subscribe, and again whenever what it depends on changes: the
 * socket left the channel itself, or its user changed. A presence subscription whose access has ended is
 * kicked out, with the reason as the kick-out message the client receives. `channels` limits the check to
 * the presence channels of those channels; without it, every presence subscription of the socket is checked.
 */
export async function revokeEndedAccess(options: ResolvedPresenceOptions, socket: AGServerSocket, channels?: string[]): Promise<void> {
  const presence = options.channelPresence;
  if (!presence) return;
  const watched = channels
    ? channels.map((channel) => presence.prefix + channel).filter((channel) => socket.isSubscribed(channel))
    : socket.subscriptions().filter((channel) => channel.startsWith(presence.prefix));
  for (const watching of watched) {
    const reason = await checkChannelAccess(options, socket, watching.slice(presence.prefix.length)).then(
      () => null,
      (error: Error) => error.message,
    );
    if (reason !== null && socket.state === socket.OPEN && socket.isSubscribed(watching)) {
      await socket.kickOut(watching, ACCESS_ENDED(watching.slice(presence.prefix.length), reason));
    }
  }
}
