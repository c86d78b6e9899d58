import type { AGServerSocket } from 'socketcluster-server';
import type { ResolvedPresenceOptions } from '../options/resolved-options.interface.js';
import { PresenceError } from '../presence.errors.js';
import { channelProblem } from './socket-identity.util.js';

/**
 * May `socket` see the presence of `channel`? By default only a socket subscribed to the channel itself may;
 * `channelPresence.canSubscribe` replaces that rule. Throws a PresenceError saying why not.
 */
export async function checkChannelAccess(options: ResolvedPresenceOptions, socket: AGServerSocket, channel: unknown): Promise<string> {
  const presence = options.channelPresence;
  if (!presence) throw new PresenceError('channel presence is not enabled on this server');
  const problem = channelProblem(channel, options.presenceChannel);
  if (problem) throw new PresenceError(problem);
  const name = channel as string;
  if (!presence.matches(name)) throw new PresenceError(`channel '${name}' has no presence`);
  const allowed = presence.canSubscribe ? await presence.canSubscribe(socket, name) : socket.isSubscribed(name);
  if (allowed !== true) {
    throw new PresenceError(
      presence.canSubscribe ? `not allowed to see who is in '${name}'` : `subscribe to '${name}' before asking who is in it`,
    );
  }
  return name;
}
