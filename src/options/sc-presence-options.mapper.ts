import { PresenceConfigError } from '../presence.errors.js';
import type { UsercountType } from '../presence.types.js';
import type { PresenceModuleOptions } from './presence-options.interface.js';

/** The options object of sc-presence (its README), each key optional. */
export interface ScPresenceOptions {
  scpGcWorkerId?: number | null;
  scpGcInterval?: number;
  scpGcThreshold?: number;
  scpBlockUsercountThreshold?: number;
  scpSCPingsPerUpdate?: number;
  scpUsercountChannel?: string;
  scpUsercountType?: 'USERS' | 'SOCKETS' | 'SUBSCRIPTIONS' | string;
  scpPresenceChannel?: string;
  scpDbhost?: string;
  scpDbname?: string;
  scpDbTablename?: string;
  scpDbuser?: string;
  scpDbpassword?: string;
  scpConnectUpdateDelay?: number;
  scpUserIdField?: string;
}

const SC_PRESENCE_KEYS: ReadonlyArray<keyof ScPresenceOptions> = [
  'scpGcWorkerId', 'scpGcInterval', 'scpGcThreshold', 'scpBlockUsercountThreshold', 'scpSCPingsPerUpdate',
  'scpUsercountChannel', 'scpUsercountType', 'scpPresenceChannel', 'scpDbhost', 'scpDbname', 'scpDbTablename',
  'scpDbuser', 'scpDbpassword', 'scpConnectUpdateDelay', 'scpUserIdField',
];

/** Seconds to whole milliseconds (2.01 s is 2010 ms, not 2009.9999999999998). */
const seconds = (value: number | undefined) => (typeof value === 'number' ? Math.round(value * 1000) : (value as undefined));

/**
 * Turns an sc-presence options object into PresenceModule options, with sc-presence's own defaults where a key
 * is missing (database `SCPresence`, user `SCP_user`). Times in seconds become milliseconds. sc-presence ran GC
 * on the worker whose id was `scpGcWorkerId`; here one elected instance runs it (`gc.enabled: 'auto'`), unless
 * `workerId` is given, in which case only the worker with that id does. A negative or null id turns GC off.
 * Values are validated by PresenceModule like any other options.
 */
export function fromScPresenceOptions(scp: ScPresenceOptions, context: { workerId?: number } = {}): PresenceModuleOptions {
  if (typeof scp !== 'object' || scp === null || Array.isArray(scp)) {
    throw new PresenceConfigError(['fromScPresenceOptions() takes the sc-presence options object']);
  }
  const unknown = Object.keys(scp).filter((key) => !SC_PRESENCE_KEYS.includes(key as keyof ScPresenceOptions));
  if (unknown.length > 0) {
    throw new PresenceConfigError(unknown.map((key) => `${key} is not an sc-presence option (known: ${SC_PRESENCE_KEYS.join(', ')})`));
  }
  const gcWorker = scp.scpGcWorkerId;
  let gcEnabled: boolean | 'auto' = 'auto';
  if (gcWorker === null || (typeof gcWorker === 'number' && gcWorker < 0)) gcEnabled = false;
  else if (context.workerId !== undefined) gcEnabled = context.workerId === (gcWorker ?? 0);

  const options: PresenceModuleOptions = {
    tableName: scp.scpDbTablename,
    userIdField: scp.scpUserIdField,
    presenceChannel: scp.scpPresenceChannel,
    usercount: {
      channel: scp.scpUsercountChannel,
      type: typeof scp.scpUsercountType === 'string' ? (scp.scpUsercountType.toLowerCase() as UsercountType) : scp.scpUsercountType,
      startupQuietMs: seconds(scp.scpBlockUsercountThreshold),
      connectDelayMs: scp.scpConnectUpdateDelay,
    },
    heartbeat: { pingsPerUpdate: scp.scpSCPingsPerUpdate },
    gc: { enabled: gcEnabled, intervalMs: seconds(scp.scpGcInterval), thresholdMs: seconds(scp.scpGcThreshold) },
  };
  if (scp.scpDbhost !== undefined) {
    options.database = {
      type: 'mysql',
      host: scp.scpDbhost,
      database: scp.scpDbname ?? 'SCPresence',
      username: scp.scpDbuser ?? 'SCP_user',
      password: scp.scpDbpassword,
    };
  }
  return dropUndefined(options) as PresenceModuleOptions;
}

/** Missing sc-presence keys leave the option out, so PresenceModule applies its default. */
function dropUndefined(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, dropUndefined(v)]),
  );
}
