import { PresenceConfigError } from '../presence.errors.js';
import { MAX_CHANNEL_LENGTH, MAX_STATE_BYTES } from '../presence.constants.js';
import { describeValue } from './describe-value.util.js';
import type { DataSourceOptions } from 'typeorm';
import type { PresenceModuleOptions } from './presence-options.interface.js';
import type { ResolvedDatabase, ResolvedPresenceOptions } from './resolved-options.interface.js';

/** socketcluster-server's own default, used to size the heartbeat when no pingInterval is given. */
const SC_DEFAULT_PING_INTERVAL = 8000;
const DATABASE_TYPES = ['mysql', 'mariadb', 'better-sqlite3'];
const USERCOUNT_TYPES = ['users', 'sockets', 'subscriptions'];
/** Suffixes are appended to the table name for the module's other tables, so keep it short and plain. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/;
/**
 * Frames larger than this are refused by the attached server (SocketCluster's own default is 100 MiB). Presence
 * itself sends little (a token of at most 16,000 characters, channel names of 255); 1 MiB leaves the app's own
 * messages room while a few unauthenticated clients can no longer make the process buffer gigabytes.
 */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly problems: string[] = [];

  fail(path: string, expected: string, value: unknown): void {
    this.problems.push(`${path} must be ${expected} (got ${describeValue(value)})`);
  }

  string(path: string, value: unknown, fallback: string, max = MAX_CHANNEL_LENGTH): string {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value.length === 0 || value.length > max) {
      this.fail(path, `a non-empty string of at most ${max} characters`, value);
      return fallback;
    }
    return value;
  }

  int(path: string, value: unknown, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      this.fail(path, `an integer >= ${min}`, value);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(path: string, value: unknown, fallback: T, allowed: readonly string[]): T {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !allowed.includes(value)) {
      this.fail(path, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
      return fallback;
    }
    return value as T;
  }

  object(path: string, value: unknown): Obj {
    if (value === undefined) return {};
    if (!isObject(value)) {
      this.fail(path, 'an object', value);
      return {};
    }
    return value;
  }

  unknownKeys(path: string, value: Obj, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.problems.push(`${path}${key} is not an option (known: ${known.join(', ')})`);
    }
  }
}


// isGlobal is known but not resolved here: Nest takes it out of the options first (see presence.module-definition).
const KNOWN_OPTIONS = [
  'server', 'socketcluster', 'database', 'tableName', 'userIdField', 'presenceChannel', 'usercount', 'heartbeat',
  'gc', 'offlineGraceMs', 'scc', 'isGlobal', 'channelPresence', 'flushIntervalMs', 'statementTimeoutMs',
  'transactionTimeoutMs', 'shutdownTimeoutMs', 'storeAuthToken', 'limits', 'userPresence',
  'history', 'sessionState',
] as const;

/** Validates the options once and applies every default; throws a PresenceConfigError naming each bad option. */
export function resolvePresenceOptions(input: PresenceModuleOptions | undefined): ResolvedPresenceOptions {
  const c = new Checker();
  const raw = c.object('options', input ?? {});
  c.unknownKeys('', raw, KNOWN_OPTIONS);

  const server = raw.server as ResolvedPresenceOptions['server'];
  if (server !== undefined && !(isObject(server) && typeof (server as Obj).listener === 'function' && isObject((server as Obj).exchange))) {
    c.fail('server', 'an AGServer from socketcluster-server', server);
  }
  const socketcluster = c.object('socketcluster', raw.socketcluster);
  if (server && raw.socketcluster !== undefined) {
    c.problems.push('socketcluster cannot be combined with server: set those options on your own AGServer');
  }

  const tableName = c.string('tableName', raw.tableName, 'SCPresence_users');
  if (!TABLE_NAME.test(tableName)) c.fail('tableName', 'letters, digits and _ (at most 51, not starting with a digit)', tableName);

  const usercount = resolveUsercount(c, raw.usercount);
  const heartbeatRaw = c.object('heartbeat', raw.heartbeat);
  c.unknownKeys('heartbeat.', heartbeatRaw, ['pingsPerUpdate']);
  const pingsPerUpdate = c.int('heartbeat.pingsPerUpdate', heartbeatRaw.pingsPerUpdate, 6, 1);
  const pingInterval = server
    ? c.int('server.pingInterval', server.pingInterval, SC_DEFAULT_PING_INTERVAL, 1)
    : c.int('socketcluster.pingInterval', socketcluster.pingInterval, SC_DEFAULT_PING_INTERVAL, 1);
  const periodMs = pingInterval * pingsPerUpdate;

  const gcRaw = c.object('gc', raw.gc);
  c.unknownKeys('gc.', gcRaw, ['enabled', 'intervalMs', 'thresholdMs', 'retentionMs']);
  let enabled: boolean | 'auto' = 'auto';
  if (gcRaw.enabled !== undefined) {
    if (gcRaw.enabled === true || gcRaw.enabled === false || gcRaw.enabled === 'auto') enabled = gcRaw.enabled;
    else c.fail('gc.enabled', "true, false or 'auto'", gcRaw.enabled);
  }
  const gc = {
    enabled,
    intervalMs: c.int('gc.intervalMs', gcRaw.intervalMs, 60_000, 10),
    thresholdMs: c.int('gc.thresholdMs', gcRaw.thresholdMs, 120_000, 10),
    retentionMs: c.int('gc.retentionMs', gcRaw.retentionMs, 30 * DAY_MS, 1000),
  };
  if (gc.thresholdMs <= periodMs) {
    c.problems.push(
      `gc.thresholdMs (${gc.thresholdMs}) must be longer than the heartbeat period, pingInterval × heartbeat.pingsPerUpdate ` +
        `(${pingInterval} × ${pingsPerUpdate} = ${periodMs}), or live rows would be collected`,
    );
  }

  const resolved: ResolvedPresenceOptions = {
    server,
    socketcluster: {
      path: '/socketcluster/',
      ...socketcluster,
      maxPayload: c.int('socketcluster.maxPayload', socketcluster.maxPayload, DEFAULT_MAX_PAYLOAD, 1024),
    },
    database: resolveDatabase(c, raw.database),
    tableName,
    userIdField: c.string('userIdField', raw.userIdField, 'user_id'),
    presenceChannel: c.string('presenceChannel', raw.presenceChannel, '_SCPRESENCE'),
    usercount,
    heartbeat: { pingsPerUpdate, periodMs },
    gc,
    offlineGraceMs: c.int('offlineGraceMs', raw.offlineGraceMs, 0, 0),
    scc: resolveScc(c, raw.scc),
    ...resolvePresenceChannels(c, raw),
    flushIntervalMs: c.int('flushIntervalMs', raw.flushIntervalMs, 20, 0),
    ...resolveTimeouts(c, raw),
    storeAuthToken: resolveStoreAuthToken(c, raw.storeAuthToken),
    limits: resolveLimits(c, raw.limits),
    history: resolveHistory(c, raw.history),
    sessionState: resolveSessionState(c, raw.sessionState),
  };
  if (c.problems.length > 0) throw new PresenceConfigError(c.problems);
  return resolved;
}

function resolveTimeouts(c: Checker, raw: Obj): Pick<ResolvedPresenceOptions, 'statementTimeoutMs' | 'transactionTimeoutMs' | 'shutdownTimeoutMs'> {
  const statementTimeoutMs = c.int('statementTimeoutMs', raw.statementTimeoutMs, 5000, 100);
  const transactionTimeoutMs = c.int('transactionTimeoutMs', raw.transactionTimeoutMs, 15_000, 100);
  if (transactionTimeoutMs < statementTimeoutMs) {
    c.problems.push(`transactionTimeoutMs (${transactionTimeoutMs}) must be at least statementTimeoutMs (${statementTimeoutMs})`);
  }
  return { statementTimeoutMs, transactionTimeoutMs, shutdownTimeoutMs: c.int('shutdownTimeoutMs', raw.shutdownTimeoutMs, 10_000, 100) };
}

function resolveStoreAuthToken(c: Checker, value: unknown): ResolvedPresenceOptions['storeAuthToken'] {
  if (value === undefined || value === 'presence-row') return 'presence-row';
  if (value !== false) c.fail('storeAuthToken', "'presence-row' or false", value);
  return false;
}

function resolveLimits(c: Checker, value: unknown): ResolvedPresenceOptions['limits'] {
  const raw = c.object('limits', value);
  c.unknownKeys('limits.', raw, ['subscriptionsPerSocket', 'statusIntervalMs']);
  return {
    subscriptionsPerSocket: c.int('limits.subscriptionsPerSocket', raw.subscriptionsPerSocket, 1000, 1),
    statusIntervalMs: c.int('limits.statusIntervalMs', raw.statusIntervalMs, 1000, 0),
  };
}

function resolveHistory(c: Checker, value: unknown): ResolvedPresenceOptions['history'] {
  if (value === undefined || value === false) return false;
  if (!isObject(value)) {
    c.fail('history', 'false or { retentionMs }', value);
    return false;
  }
  c.unknownKeys('history.', value, ['retentionMs']);
  return { retentionMs: c.int('history.retentionMs', value.retentionMs, 30 * DAY_MS, 1000) };
}

function resolveSessionState(c: Checker, value: unknown): ResolvedPresenceOptions['sessionState'] {
  if (value === false) return false;
  const raw = c.object('sessionState', value);
  c.unknownKeys('sessionState.', raw, ['maxBytes']);
  const maxBytes = c.int('sessionState.maxBytes', raw.maxBytes, 1024, 2);
  if (maxBytes > MAX_STATE_BYTES) {
    c.fail('sessionState.maxBytes', `at most ${MAX_STATE_BYTES} (the SCP_state column is a TEXT)`, maxBytes);
    return { maxBytes: MAX_STATE_BYTES };
  }
  return { maxBytes };
}

function resolveUsercount(c: Checker, value: unknown): ResolvedPresenceOptions['usercount'] {
  if (value === false) return false;
  const raw = c.object('usercount', value);
  c.unknownKeys('usercount.', raw, ['channel', 'type', 'startupQuietMs', 'connectDelayMs']);
  return {
    channel: c.string('usercount.channel', raw.channel, 'USERCOUNT'),
    type: c.oneOf('usercount.type', raw.type, 'users', USERCOUNT_TYPES),
    startupQuietMs: c.int('usercount.startupQuietMs', raw.startupQuietMs, 60_000, 0),
    connectDelayMs: c.int('usercount.connectDelayMs', raw.connectDelayMs, 3000, 0),
  };
}

function resolveDatabase(c: Checker, value: unknown): ResolvedDatabase {
  if (value === undefined) {
    return { kind: 'own', options: { type: 'better-sqlite3', database: ':memory:' }, migrationsRun: true };
  }
  const raw = c.object('database', value);
  let migrationsRun = true;
  if (raw.migrationsRun !== undefined) {
    if (typeof raw.migrationsRun === 'boolean') migrationsRun = raw.migrationsRun;
    else c.fail('database.migrationsRun', 'a boolean', raw.migrationsRun);
  }
  if ('dataSourceName' in raw) {
    const dataSourceName = c.string('database.dataSourceName', raw.dataSourceName, 'default');
    return { kind: 'shared', dataSourceName, migrationsRun };
  }
  if (!DATABASE_TYPES.includes(raw.type as string)) {
    c.fail('database.type', `one of ${DATABASE_TYPES.map((t) => `'${t}'`).join(', ')} (or give database.dataSourceName)`, raw.type);
  }
  // `url: process.env.DATABASE_URL` with the variable unset: the driver would log in as '' on localhost.
  if (raw.type !== 'better-sqlite3' && 'url' in raw && raw.host === undefined && (typeof raw.url !== 'string' || raw.url === '')) {
    c.fail('database.url', `a connection URL such as ${raw.type}://user:password@host:3306/database (set the variable it comes from?)`, raw.url);
  }
  const { migrationsRun: _ignored, ...connection } = raw;
  // The module writes with its own SQL, so TypeORM must never alter the schema behind the migration's back.
  const options = { ...connection, synchronize: false, migrationsRun: false } as Obj;
  if (raw.type !== 'better-sqlite3') {
    // UTC on the wire keeps SCP_updated comparable between hosts in other time zones.
    options.timezone ??= 'Z';
    options.charset ??= 'utf8mb4';
  }
  return { kind: 'own', options: options as unknown as DataSourceOptions, migrationsRun };
}

function resolveScc(c: Checker, value: unknown): ResolvedPresenceOptions['scc'] {
  if (value === undefined) return undefined;
  const raw = c.object('scc', value);
  if (typeof raw.stateServerHost !== 'string' || raw.stateServerHost === '') {
    c.fail('scc.stateServerHost', 'a host name', raw.stateServerHost);
  }
  if (raw.stateServerPort !== undefined) c.int('scc.stateServerPort', raw.stateServerPort, 7777, 1);
  return raw as ResolvedPresenceOptions['scc'];
}

/** Most ids `userPresence.maxIds` may allow: each costs a `canWatch` call and a key in one query. */
const MAX_WATCH_IDS = 1000;

function resolveUserPresence(c: Checker, value: unknown): ResolvedPresenceOptions['userPresence'] {
  if (value === undefined || value === false) return false;
  const raw = c.object('userPresence', value);
  c.unknownKeys('userPresence.', raw, ['prefix', 'canWatch', 'maxIds']);
  if (raw.canWatch !== undefined && typeof raw.canWatch !== 'function') {
    c.fail('userPresence.canWatch', 'a function (socket, userId) => boolean | Promise<boolean>', raw.canWatch);
  }
  let maxIds = c.int('userPresence.maxIds', raw.maxIds, 100, 1);
  if (maxIds > MAX_WATCH_IDS) {
    c.fail('userPresence.maxIds', `an integer from 1 to ${MAX_WATCH_IDS}`, raw.maxIds);
    maxIds = 100;
  }
  return {
    // Room is left for the user id after the prefix: a channel name holds at most MAX_CHANNEL_LENGTH characters.
    prefix: c.string('userPresence.prefix', raw.prefix, 'presence:user:', MAX_CHANNEL_LENGTH - 1),
    canWatch: raw.canWatch as never,
    maxIds,
  };
}

/**
 * Channel and user presence live side by side under prefixes that may nest (the defaults do: 'presence:' and
 * 'presence:user:'). A channel whose presence channel would fall under the user prefix has no channel presence,
 * so that `presence:user:42` always means user 42; a user prefix that every channel's presence would fall under
 * is refused.
 */
function resolvePresenceChannels(c: Checker, raw: Obj): Pick<ResolvedPresenceOptions, 'channelPresence' | 'userPresence'> {
  const channelPresence = resolveChannelPresence(c, raw.channelPresence);
  const userPresence = resolveUserPresence(c, raw.userPresence);
  if (!channelPresence || !userPresence) return { channelPresence, userPresence };
  const { prefix } = channelPresence;
  if (prefix.startsWith(userPresence.prefix)) {
    c.problems.push(
      `userPresence.prefix ('${userPresence.prefix}') must not be the start of channelPresence.prefix ('${prefix}'): ` +
        'the presence of every channel would read as a watched user; choose prefixes that differ',
    );
    return { channelPresence, userPresence };
  }
  if (!userPresence.prefix.startsWith(prefix)) return { channelPresence, userPresence };
  const taken = userPresence.prefix.slice(prefix.length);
  const { matches } = channelPresence;
  return { channelPresence: { ...channelPresence, matches: (channel) => !channel.startsWith(taken) && matches(channel) }, userPresence };
}

function resolveChannelPresence(c: Checker, value: unknown): ResolvedPresenceOptions['channelPresence'] {
  if (value === undefined || value === false) return false;
  const raw = c.object('channelPresence', value);
  c.unknownKeys('channelPresence.', raw, ['channels', 'prefix', 'canSubscribe']);
  const channels = raw.channels;
  let matches: (channel: string) => boolean = () => false;
  if (Array.isArray(channels) && channels.every((ch) => typeof ch === 'string')) {
    const set = new Set(channels as string[]);
    matches = (channel) => set.has(channel);
  } else if (channels instanceof RegExp) {
    // A fresh RegExp without the g/y flags: test() must not carry lastIndex from one channel to the next.
    const re = new RegExp(channels.source, channels.flags.replace(/[gy]/g, ''));
    matches = (channel) => re.test(channel);
  } else if (typeof channels === 'function') {
    matches = (channel) => (channels as (ch: string) => unknown)(channel) === true;
  } else {
    c.fail('channelPresence.channels', 'an array of channel names, a RegExp or a function', channels);
  }
  if (raw.canSubscribe !== undefined && typeof raw.canSubscribe !== 'function') {
    c.fail('channelPresence.canSubscribe', 'a function (socket, channel) => boolean | Promise<boolean>', raw.canSubscribe);
  }
  return {
    matches,
    prefix: c.string('channelPresence.prefix', raw.prefix, 'presence:'),
    canSubscribe: raw.canSubscribe as never,
  };
}
