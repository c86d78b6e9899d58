/** Names shared by the demo server and its page (this file is served to the browser as it is). */

/** Channel the server publishes sanitized presence events on. */
export const EVENTS_CHANNEL = 'demo:events';
/** The room `lobby` is the channel `room:lobby`. */
export const ROOM_PREFIX = 'room:';
/** Channel presence of the rooms: the diffs of `room:lobby` are published on `presence:room:lobby`. */
export const PRESENCE_PREFIX = 'presence:';
/** The socket procedure that signs a user in: `socket.invoke('demo.login', name)` resolves with `{ userId }`. */
export const LOGIN_PROCEDURE = 'demo.login';
