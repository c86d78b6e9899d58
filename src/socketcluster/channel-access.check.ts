import type { AGServerSocket } from 'socketcluster-server';
import type { ResolvedPresenceOptions } from '../options/resolved-options.interface.js';
import { PresenceError } from '../presence.errors.js';
import { channelProblem } from './socket-identity.util.js';
import { CHANNEL_NOT_ALLOWED, CHANNEL_PRESENCE_OFF, CHANNEL_SUBSCRIBE_FIRST, CHANNEL_WITHOUT_PRESENCE } from '../presence.messages.js';

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
