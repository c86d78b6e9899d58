/** Procedure a client invokes to set its own socket's status. */
export const SET_STATUS_PROCEDURE = 'presence.setStatus';

/** Procedure a client invokes to set (or, with null, clear) its own session's state. */
export const SET_STATE_PROCEDURE = 'presence.setState';

/** Procedure a client invokes for the members of a channel (channel presence). */
export const MEMBERS_PROCEDURE = 'presence.members';

/** Procedure a client invokes for the status and last-seen time of the users it watches (user presence). */
export const USERS_PROCEDURE = 'presence.users';

/** Widths of the sc-presence columns; values that do not fit are refused, never truncated. */
export const MAX_CHANNEL_LENGTH = 255;
export const MAX_USER_ID_LENGTH = 255;
export const MAX_ORIGIN_LENGTH = 1024;
export const MAX_IP_LENGTH = 255;
/** Token payloads larger than this (as JSON) are stored as NULL, so one huge token cannot fail a batch. */
export const MAX_AUTH_TOKEN_JSON_LENGTH = 16000;
/** Largest `sessionState.maxBytes`: the SCP_state column is a TEXT (64 KiB on MySQL). */
export const MAX_STATE_BYTES = 65535;
/** Session states nest at most this deep: deeper ones are refused, which bounds the walk that checks them. */
export const MAX_STATE_DEPTH = 32;

export const GC_INTERVAL_NAME = 'nestjs-sc-presence:gc';
export const HEARTBEAT_INTERVAL_NAME = 'nestjs-sc-presence:heartbeat';
