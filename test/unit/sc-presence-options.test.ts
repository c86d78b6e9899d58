import { describe, it, expect } from 'vitest';
import { fromScPresenceOptions, type ScPresenceOptions } from '../../src/options/sc-presence-options.mapper.js';
import { resolvePresenceOptions } from '../../src/options/presence-options.resolver.js';
import { PresenceConfigError } from '../../src/presence.errors.js';

/** The example options object of sc-presence's README, verbatim. */
const README_EXAMPLE = {
  scpGcWorkerId: 0,
  scpGcInterval: 60,
  scpGcThreshold: 120,
  scpBlockUsercountThreshold: 60,
  scpSCPingsPerUpdate: 6,
  scpUsercountChannel: 'USERCOUNT',
  scpUsercountType: 'USERS',
  scpPresenceChannel: '_SCPRESENCE',
  scpDbhost: 'dbHostname',
  scpDbname: 'SCPresence',
  scpDbTablename: 'SCPresence_users',
  scpDbuser: 'SCP_user',
  scpDbpassword: 'besuretosetpassword',
  scpConnectUpdateDelay: 3000,
  scpUserIdField: 'user_id',
};

/** Values that differ from every default, so a key that is not mapped shows. */
const CUSTOM: ScPresenceOptions = {
  scpGcWorkerId: 2,
  scpGcInterval: 30,
  scpGcThreshold: 300,
  scpBlockUsercountThreshold: 10,
  scpSCPingsPerUpdate: 4,
  scpUsercountChannel: 'ONLINE',
  scpUsercountType: 'SUBSCRIPTIONS',
  scpPresenceChannel: '_HERE',
  scpDbhost: 'db.example',
  scpDbname: 'presence',
  scpDbTablename: 'online_users',
  scpDbuser: 'presence_rw',
  scpDbpassword: 'pw',
  scpConnectUpdateDelay: 1500,
  scpUserIdField: 'uid',
};

describe('fromScPresenceOptions: the README example', () => {
  const options = fromScPresenceOptions(README_EXAMPLE);

  it('has all 15 sc-presence keys', () => {
    expect(Object.keys(README_EXAMPLE)).toHaveLength(15);
  });

  it('maps scpGcWorkerId 0 to one elected GC instance', () => {
    expect(options.gc?.enabled).toBe('auto');
  });

  it('maps scpGcInterval and scpGcThreshold from seconds to milliseconds', () => {
    expect(options.gc?.intervalMs).toBe(60_000);
    expect(options.gc?.thresholdMs).toBe(120_000);
  });

  it('maps scpBlockUsercountThreshold from seconds to startupQuietMs', () => {
    expect(options.usercount).toMatchObject({ startupQuietMs: 60_000 });
  });

  it('maps scpSCPingsPerUpdate to heartbeat.pingsPerUpdate', () => {
    expect(options.heartbeat).toEqual({ pingsPerUpdate: 6 });
  });

  it('maps scpUsercountChannel and lower-cases scpUsercountType', () => {
    expect(options.usercount).toMatchObject({ channel: 'USERCOUNT', type: 'users' });
  });

  it('keeps scpConnectUpdateDelay in milliseconds', () => {
    expect(options.usercount).toMatchObject({ connectDelayMs: 3000 });
  });

  it('maps scpPresenceChannel, scpDbTablename and scpUserIdField', () => {
    expect(options.presenceChannel).toBe('_SCPRESENCE');
    expect(options.tableName).toBe('SCPresence_users');
    expect(options.userIdField).toBe('user_id');
  });

  it('maps scpDbhost, scpDbname, scpDbuser and scpDbpassword to a MySQL database', () => {
    expect(options.database).toEqual({
      type: 'mysql', host: 'dbHostname', database: 'SCPresence', username: 'SCP_user', password: 'besuretosetpassword',
    });
  });

  it('gives exactly these PresenceModule options', () => {
    expect(options).toEqual({
      tableName: 'SCPresence_users',
      userIdField: 'user_id',
      presenceChannel: '_SCPRESENCE',
      usercount: { channel: 'USERCOUNT', type: 'users', startupQuietMs: 60_000, connectDelayMs: 3000 },
      heartbeat: { pingsPerUpdate: 6 },
      gc: { enabled: 'auto', intervalMs: 60_000, thresholdMs: 120_000 },
      database: {
        type: 'mysql', host: 'dbHostname', database: 'SCPresence', username: 'SCP_user', password: 'besuretosetpassword',
      },
    });
  });

  it('passes resolvePresenceOptions', () => {
    const resolved = resolvePresenceOptions(options);
    expect(resolved.usercount).toEqual({ channel: 'USERCOUNT', type: 'users', startupQuietMs: 60_000, connectDelayMs: 3000 });
    expect(resolved.gc).toEqual({ enabled: 'auto', intervalMs: 60_000, thresholdMs: 120_000, retentionMs: 30 * 24 * 3_600_000 });
    expect(resolved.database).toMatchObject({
      kind: 'own',
      options: { type: 'mysql', host: 'dbHostname', database: 'SCPresence', username: 'SCP_user', timezone: 'Z', charset: 'utf8mb4' },
    });
  });
});

describe('fromScPresenceOptions: every key is mapped', () => {
  const options = fromScPresenceOptions(CUSTOM);

  it('maps values that differ from the defaults', () => {
    expect(options).toEqual({
      tableName: 'online_users',
      userIdField: 'uid',
      presenceChannel: '_HERE',
      usercount: { channel: 'ONLINE', type: 'subscriptions', startupQuietMs: 10_000, connectDelayMs: 1500 },
      heartbeat: { pingsPerUpdate: 4 },
      gc: { enabled: 'auto', intervalMs: 30_000, thresholdMs: 300_000 },
      database: { type: 'mysql', host: 'db.example', database: 'presence', username: 'presence_rw', password: 'pw' },
    });
  });

  it('passes resolvePresenceOptions', () => {
    const resolved = resolvePresenceOptions(options);
    expect(resolved.tableName).toBe('online_users');
    expect(resolved.heartbeat.pingsPerUpdate).toBe(4);
  });

  it.each([
    ['USERS', 'users'],
    ['SOCKETS', 'sockets'],
    ['SUBSCRIPTIONS', 'subscriptions'],
    ['Sockets', 'sockets'],
  ])('lower-cases scpUsercountType %s', (scpUsercountType, type) => {
    expect(fromScPresenceOptions({ scpUsercountType }).usercount).toEqual({ type });
  });

  it('leaves a wrong scpUsercountType to the validation, which names usercount.type', () => {
    const options = fromScPresenceOptions({ scpUsercountType: 'PEOPLE' });
    expect(() => resolvePresenceOptions(options)).toThrow(/usercount\.type/);
  });

  it('converts fractions of a second', () => {
    expect(fromScPresenceOptions({ scpGcInterval: 0.5, scpBlockUsercountThreshold: 1.5 })).toMatchObject({
      gc: { intervalMs: 500 },
      usercount: { startupQuietMs: 1500 },
    });
  });

  it('maps scpBlockUsercountThreshold 0 to no quiet period', () => {
    expect(resolvePresenceOptions(fromScPresenceOptions({ scpBlockUsercountThreshold: 0 })).usercount).toMatchObject({
      startupQuietMs: 0,
    });
  });
});

describe('fromScPresenceOptions: unknown keys', () => {
  it('throws a PresenceConfigError naming the unknown key', () => {
    const scp = { ...README_EXAMPLE, scpDbport: 3306 } as ScPresenceOptions;
    expect(() => fromScPresenceOptions(scp)).toThrow(PresenceConfigError);
    expect(() => fromScPresenceOptions(scp)).toThrow(/scpDbport is not an sc-presence option/);
  });

  it('names every unknown key', () => {
    try {
      fromScPresenceOptions({ scpDbPort: 1, tableName: 'x' } as ScPresenceOptions);
    } catch (error) {
      const problems = (error as PresenceConfigError).problems;
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/^scpDbPort /);
      expect(problems[1]).toMatch(/^tableName /);
      return;
    }
    throw new Error('no error');
  });

  it('treats key names case-sensitively', () => {
    expect(() => fromScPresenceOptions({ scpDbHost: 'db' } as ScPresenceOptions)).toThrow(/scpDbHost/);
  });
});

describe('fromScPresenceOptions: scpGcWorkerId', () => {
  it.each([0, 1, 7])('maps worker id %i to one elected instance', (scpGcWorkerId) => {
    expect(fromScPresenceOptions({ scpGcWorkerId }).gc?.enabled).toBe('auto');
  });

  it('turns GC off for a negative id', () => {
    expect(fromScPresenceOptions({ scpGcWorkerId: -1 }).gc?.enabled).toBe(false);
  });

  it('turns GC off for null', () => {
    expect(fromScPresenceOptions({ scpGcWorkerId: null }).gc?.enabled).toBe(false);
  });

  it('elects an instance when the key is missing', () => {
    expect(fromScPresenceOptions({}).gc?.enabled).toBe('auto');
  });

  it('runs GC only on the worker whose id matches, given the workerId', () => {
    expect(fromScPresenceOptions({ scpGcWorkerId: 2 }, { workerId: 2 }).gc?.enabled).toBe(true);
    expect(fromScPresenceOptions({ scpGcWorkerId: 2 }, { workerId: 0 }).gc?.enabled).toBe(false);
    expect(fromScPresenceOptions({ scpGcWorkerId: 2 }, { workerId: 3 }).gc?.enabled).toBe(false);
  });

  it('uses sc-presence\'s default worker 0 when a workerId is given but the key is missing', () => {
    expect(fromScPresenceOptions({}, { workerId: 0 }).gc?.enabled).toBe(true);
    expect(fromScPresenceOptions({}, { workerId: 1 }).gc?.enabled).toBe(false);
  });

  it('keeps GC off for a negative or null id, whatever the workerId', () => {
    expect(fromScPresenceOptions({ scpGcWorkerId: -1 }, { workerId: -1 }).gc?.enabled).toBe(false);
    expect(fromScPresenceOptions({ scpGcWorkerId: null }, { workerId: 0 }).gc?.enabled).toBe(false);
  });
});

describe('fromScPresenceOptions: missing keys', () => {
  it('leaves every missing option out', () => {
    expect(fromScPresenceOptions({})).toEqual({ usercount: {}, heartbeat: {}, gc: { enabled: 'auto' } });
  });

  it('has no key whose value is undefined', () => {
    const options = fromScPresenceOptions({ scpDbhost: 'db' });
    const walk = (value: unknown, path: string): void => {
      if (typeof value !== 'object' || value === null) return;
      for (const [key, v] of Object.entries(value)) {
        expect(v, `${path}${key}`).not.toBeUndefined();
        walk(v, `${path}${key}.`);
      }
    };
    walk(options, '');
  });

  it('lets every PresenceModule default apply', () => {
    expect(resolvePresenceOptions(fromScPresenceOptions({}))).toEqual(resolvePresenceOptions({}));
  });

  it('uses sc-presence\'s database and user names when only the host is given', () => {
    expect(fromScPresenceOptions({ scpDbhost: 'db' }).database).toEqual({
      type: 'mysql', host: 'db', database: 'SCPresence', username: 'SCP_user',
    });
  });

  it('keeps the in-memory SQLite default without scpDbhost', () => {
    const options = fromScPresenceOptions({ scpDbname: 'other', scpDbuser: 'me', scpDbpassword: 'pw' });
    expect(options.database).toBeUndefined();
    expect(resolvePresenceOptions(options).database).toMatchObject({ options: { type: 'better-sqlite3', database: ':memory:' } });
  });

  it('keeps the other defaults when one key is given', () => {
    const resolved = resolvePresenceOptions(fromScPresenceOptions({ scpGcThreshold: 600 }));
    expect(resolved.gc).toEqual({ enabled: 'auto', intervalMs: 60_000, thresholdMs: 600_000, retentionMs: 30 * 24 * 3_600_000 });
    expect(resolved.usercount).toEqual({ channel: 'USERCOUNT', type: 'users', startupQuietMs: 60_000, connectDelayMs: 3000 });
  });

  it('turns fractional seconds into whole milliseconds', () => {
    const options = fromScPresenceOptions({ scpGcInterval: 2.01, scpGcThreshold: 120.03, scpBlockUsercountThreshold: 0.5 });
    expect(options.gc).toMatchObject({ intervalMs: 2010, thresholdMs: 120_030 });
    expect(options.usercount).toMatchObject({ startupQuietMs: 500 });
    expect(() => resolvePresenceOptions(options)).not.toThrow();
  });

  it('refuses a missing options object with a clear error', () => {
    expect(() => fromScPresenceOptions(undefined as never)).toThrow(/takes the sc-presence options object/);
  });
});
