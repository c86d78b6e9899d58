/**
 * What the module says when it refuses something or cannot go on, in one place. Each message names what was
 * wrong and what to do instead; a client receives the `PresenceError` ones verbatim.
 */

// ------------------------------------------------------------------ refused client and service requests

export const STATUS_VALUE = (got: string) => `status must be 'online' or 'idle' (got ${got})`;
export const STATUS_BUSY = (max: number) =>
  `too many status changes at once (at most ${max} unanswered): wait for the answer before the next presence.setStatus`;
export const SOCKET_ID_TYPE = 'socketId must be a string';
export const SOCKET_NOT_HERE = (socketId: string) => `socket '${socketId.slice(0, 64)}' is not connected to this instance`;
export const ANONYMOUS_STATUS = 'an anonymous socket has no presence status: authenticate first';
export const USER_IDS_TYPE = 'userIds must be an array of user ids';
export const TOKEN_PAYLOAD = (got: string) => `a token's payload must be a plain object of claims, e.g. { user_id: '42' } (got ${got})`;
export const NO_SIGNATURE_KEY =
  'the SocketCluster server has no key to sign tokens with: set socketcluster.authKey (or authPrivateKey) in PresenceModule options';
export const USER_ID_VALUE = (max: number) => `a user id must be a well-formed string of 1 to ${max} characters`;
export const TOO_MANY_SUBSCRIPTIONS = (max: number) =>
  `a socket can hold at most ${max} subscriptions: unsubscribe from a channel first (limits.subscriptionsPerSocket)`;
export const ANONYMOUS_STATE = 'an anonymous socket has no session state: authenticate first';
export const STATE_VALUE = (got: string) => `state must be a plain JSON object, or null to clear it (got ${got})`;
export const STATE_NOT_JSON = (path: string, got: string) =>
  `state${path} is ${got}, which JSON cannot carry: use null, booleans, finite numbers, well-formed strings, arrays and plain objects`;
export const STATE_CYCLE = (path: string) => `state${path} refers back to an object that contains it: a state must be a tree`;
export const STATE_TOO_DEEP = (max: number) => `state nests deeper than ${max} levels: flatten it`;
export const STATE_TOO_BIG = (max: number) =>
  `state is larger than ${max} bytes as JSON (sessionState.maxBytes): keep only what others need to see`;
export const STATE_BUSY = (max: number) =>
  `too many state changes at once (at most ${max} unanswered): wait for the answer before the next presence.setState`;
export const SESSION_STATE_OFF = 'session state is turned off on this server (sessionState: false)';
export const COUNT_TYPE = (types: readonly string[]) => `count type must be one of ${types.join(', ')}`;
export const HISTORY_OFF = 'session history is off: set the history option ({ history: { retentionMs } }) to record ended sessions';
export const HISTORY_QUERY = 'getSessionHistory options must be an object { since?: Date, limit?: number }';
export const HISTORY_SINCE = 'since must be a valid Date';
export const HISTORY_LIMIT = (max: number) => `limit must be a positive integer (at most ${max} sessions are returned)`;

// ------------------------------------------------------------------ channel presence access

export const CHANNEL_PRESENCE_OFF = 'channel presence is not enabled on this server: set the channelPresence option';
export const CHANNEL_WITHOUT_PRESENCE = (channel: string) => `channel '${channel}' has no presence`;
export const CHANNEL_NOT_ALLOWED = (channel: string) => `not allowed to see who is in '${channel}'`;
export const CHANNEL_SUBSCRIBE_FIRST = (channel: string) => `subscribe to '${channel}' before asking who is in it`;
export const CANNOT_SUBSCRIBE = (problem: string) => `cannot subscribe: ${problem}`;
export const SERVER_ONLY_CHANNEL = (channel: string) => `'${channel}' is published by the server only`;
export const ACCESS_ENDED = (channel: string, reason: string) => `no longer allowed to see who is in '${channel}': ${reason}`;

// ------------------------------------------------------------------ watched users (user presence)

export const USER_PRESENCE_OFF = 'user presence is not enabled on this server: set the userPresence option';
export const WATCH_ANONYMOUS = 'an anonymous socket cannot watch users: authenticate first';
export const WATCH_USER_ID = (max: number) => `a watched user id must be a well-formed string of 1 to ${max} characters`;
export const WATCH_NOT_ALLOWED = (userId: string) => `not allowed to watch user '${userId.slice(0, 64)}'`;
export const WATCH_IDS_TYPE = 'presence.users takes an array of user ids (strings)';
export const WATCH_TOO_MANY = (max: number) =>
  `presence.users answers for at most ${max} user ids per call (userPresence.maxIds): split the list`;
export const WATCH_ENDED = (userId: string, reason: string) => `no longer allowed to watch user '${userId.slice(0, 64)}': ${reason}`;

// ------------------------------------------------------------------ the app's own inbound middleware

export const MIDDLEWARE_NOT_FUNCTION = 'inbound middleware must be a function of the action stream';
export const MIDDLEWARE_ALREADY_SET =
  'Middleware inbound type has already been set: the server keeps one inbound middleware of the app next to ' +
  'the presence guards. Call server.removeMiddleware(server.MIDDLEWARE_INBOUND) first to replace it.';
export const MIDDLEWARE_NOT_ADOPTABLE =
  'server: the AGServer has inbound middleware the module cannot take over. Set your inbound middleware after ' +
  'PresenceModule has started (app.init()): server.setMiddleware(server.MIDDLEWARE_INBOUND, fn) is then chained ' +
  'after the presence guards';

// ------------------------------------------------------------------ setup

export const IS_GLOBAL_TYPE = (got: string) => `isGlobal must be a boolean (got ${got})`;

export const SERVER_REQUIRED =
  'server is required when the app has no HTTP server (NestFactory.createApplicationContext): pass an AGServer from socketcluster-server';
export const STORE_NOT_READY = 'PresenceStore is not initialised yet: wait for app.init()';
export const NO_DATA_SOURCE = (name: string) =>
  `database.dataSourceName '${name}' names no TypeORM DataSource: import TypeOrmModule.forRoot() with that name before PresenceModule`;
export const DATABASE_NOT_OPENED = (target: string, reason: string, advice: string) =>
  `PresenceModule could not open its database (${target}): ${reason}. ${advice}`;
export const DATABASE_ADVICE = {
  unknownDatabase: 'Create that database first (CREATE DATABASE …), or fix its name in database.url / database.database.',
  accessDenied: 'Check the user and password in database.url (or database.username / database.password), and that the user may use that database.',
  unreachable: 'Check the host and port in database.url (or database.host / database.port), and that the server is up and reachable from here.',
  sqliteFile: "Check that the SQLite file's directory exists and that this process may write there (database.database).",
  notSqlite: 'That file is not a SQLite database: give database.database a file of its own.',
  other: 'Check the connection options in database.',
} as const;
export const UNSUPPORTED_DATABASE = (type: unknown) =>
  `nestjs-sc-presence supports mysql, mariadb and better-sqlite3 databases, not '${String(type)}'`;
export const STARTUP_LOCK_TIMEOUT = (name: string) => `could not take the startup lock '${name}' within 30 s`;

// ------------------------------------------------------------------ packages an option needs

export const PEER_MISSING = (option: string, name: string, install: string) =>
  `${option} needs the package '${name}', which is not installed: run \`${install}\``;
export const PEER_BROKEN = (option: string, name: string, install: string, why: string) =>
  `${option} needs the package '${name}', which is installed but does not load (${why}): run \`${install}\` again`;
export const SQLITE_UNBUILT = (option: string, why: string) =>
  `${option}: better-sqlite3 is installed but not built (${why}): run ` +
  '`npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3`';
/** scc-broker-client 10 asks for a skeleton-rendezvous 2 that is not on the registry: the app pins 1.1.3. */
export const SCC_INSTALL =
  'npm pkg set overrides.scc-broker-client.skeleton-rendezvous=1.1.3 && npm install scc-broker-client@10';

/** A warning: SQLite works on, with its checkpoints where SQLite puts them by default. */
export const CHECKPOINTS_ON_EVENT_LOOP = (reason: string) =>
  `SQLite's WAL checkpoints stay on the event loop, as SQLite runs them by default: ${reason}`;

// ------------------------------------------------------------------ database outages

export const DATABASE_TIMEOUT = (what: string, ms: number) =>
  `the database did not answer ${what} within ${ms} ms: its connection was dropped and the work is retried on a new one ` +
  '(check the network to the database, or raise statementTimeoutMs / transactionTimeoutMs)';
export const DATABASE_CONNECTION_FAILED = (code: string, reason: string) =>
  `the connection to the database failed (${code}: ${reason}): it was dropped, and the next statement opens a new ` +
  'one (check the network to the database)';
export const STATUS_NOT_STORED = (ms: number) =>
  `the status was accepted but is not stored yet: the database did not answer within ${ms} ms. It is written when the ` +
  'database answers again; call presence.setStatus again to wait for it';
export const STATE_NOT_STORED = (ms: number) =>
  `the state was accepted but is not stored yet: the database did not answer within ${ms} ms. It is written when the ` +
  'database answers again; call presence.setState again to wait for it';
