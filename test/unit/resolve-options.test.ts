import { describe, it, expect } from 'vitest';
import { resolvePresenceOptions } from '../../src/options/presence-options.resolver.js';
import type { ResolvedPresenceOptions } from '../../src/options/resolved-options.interface.js';
import { PresenceConfigError } from '../../src/presence.errors.js';
import { problemsOf, resolve } from '../support/resolve-options.js';


/** A problem list with exactly one entry that starts with `path`. */
function expectOneProblemAbout(input: unknown, path: string): string {
  const problems = problemsOf(input);
  expect(problems).toHaveLength(1);
  expect(problems[0].startsWith(path)).toBe(true);
  return problems[0];
}

const fakeServer = (pingInterval?: number) => ({ listener: () => undefined, exchange: {}, pingInterval });

function channelPresenceOf(resolved: ResolvedPresenceOptions) {
  if (!resolved.channelPresence) throw new Error('channelPresence is off');
  return resolved.channelPresence;
}

describe('resolvePresenceOptions: defaults', () => {
  const defaults = resolvePresenceOptions(undefined);

  it('uses the sc-presence table, field and channel names', () => {
    expect(defaults.tableName).toBe('SCPresence_users');
    expect(defaults.userIdField).toBe('user_id');
    expect(defaults.presenceChannel).toBe('_SCPRESENCE');
  });

  it('publishes the user count on USERCOUNT, counting users, after 60 s of quiet and 3 s after a connect', () => {
    expect(defaults.usercount).toEqual({ channel: 'USERCOUNT', type: 'users', startupQuietMs: 60_000, connectDelayMs: 3000 });
  });

  it('refreshes rows every 6 pings of socketcluster-server\'s default 8 s ping interval', () => {
    expect(defaults.heartbeat).toEqual({ pingsPerUpdate: 6, periodMs: 48_000 });
  });

  it('runs GC on one elected instance every minute for rows silent for two minutes', () => {
    expect(defaults.gc).toEqual({ enabled: 'auto', intervalMs: 60_000, thresholdMs: 120_000, retentionMs: 30 * 24 * 3_600_000 });
  });

  it('bounds a statement at 5 s, a transaction at 15 s and a shutdown at 10 s', () => {
    expect([defaults.statementTimeoutMs, defaults.transactionTimeoutMs, defaults.shutdownTimeoutMs]).toEqual([5000, 15_000, 10_000]);
  });

  it('keeps database bounds at their floor of 100 ms', () => {
    const floor = resolve({ statementTimeoutMs: 100, transactionTimeoutMs: 100, shutdownTimeoutMs: 100 });
    expect([floor.statementTimeoutMs, floor.transactionTimeoutMs, floor.shutdownTimeoutMs]).toEqual([100, 100, 100]);
  });

  it('has no offline grace and no channel presence', () => {
    expect(defaults.offlineGraceMs).toBe(0);
    expect(defaults.channelPresence).toBe(false);
  });

  it('uses an in-memory SQLite database and runs the migrations', () => {
    expect(defaults.database).toEqual({
      kind: 'own',
      options: { type: 'better-sqlite3', database: ':memory:' },
      migrationsRun: true,
    });
  });

  it('attaches socketcluster at /socketcluster/ without server or scc', () => {
    expect(defaults.socketcluster).toEqual({ path: '/socketcluster/', maxPayload: 1024 * 1024 });
    expect(defaults.server).toBeUndefined();
    expect(defaults.scc).toBeUndefined();
  });

  it('gives the same result for undefined and for an empty object', () => {
    expect(resolvePresenceOptions({})).toEqual(defaults);
  });

  it('keeps socketcluster options next to the default path', () => {
    const resolved = resolvePresenceOptions({ socketcluster: { pingInterval: 5000, authKey: 'secret' } });
    expect(resolved.socketcluster).toEqual({ path: '/socketcluster/', pingInterval: 5000, authKey: 'secret', maxPayload: 1024 * 1024 });
  });

  it('lets socketcluster.path replace the default path', () => {
    expect(resolvePresenceOptions({ socketcluster: { path: '/ws/' } }).socketcluster.path).toBe('/ws/');
  });

  it('applies the defaults of a usercount object given partly', () => {
    expect(resolvePresenceOptions({ usercount: { type: 'sockets' } }).usercount).toEqual({
      channel: 'USERCOUNT', type: 'sockets', startupQuietMs: 60_000, connectDelayMs: 3000,
    });
  });
});

describe('resolvePresenceOptions: valid values', () => {
  it('turns the user count off with usercount: false', () => {
    expect(resolvePresenceOptions({ usercount: false }).usercount).toBe(false);
  });

  it('accepts every usercount type', () => {
    for (const type of ['users', 'sockets', 'subscriptions'] as const) {
      expect(resolvePresenceOptions({ usercount: { type } }).usercount).toMatchObject({ type });
    }
  });

  it('accepts 0 for startupQuietMs, connectDelayMs and offlineGraceMs', () => {
    const resolved = resolvePresenceOptions({ usercount: { startupQuietMs: 0, connectDelayMs: 0 }, offlineGraceMs: 0 });
    expect(resolved.usercount).toMatchObject({ startupQuietMs: 0, connectDelayMs: 0 });
    expect(resolved.offlineGraceMs).toBe(0);
  });

  it('accepts true, false and auto for gc.enabled', () => {
    for (const enabled of [true, false, 'auto'] as const) {
      expect(resolvePresenceOptions({ gc: { enabled } }).gc.enabled).toBe(enabled);
    }
  });

  it('accepts a table name of 51 plain characters', () => {
    const tableName = `T${'a'.repeat(50)}`;
    expect(resolvePresenceOptions({ tableName }).tableName).toBe(tableName);
  });

  it('accepts an AGServer-like server and takes its pingInterval for the heartbeat period', () => {
    const server = fakeServer(1000);
    const resolved = resolve({ server });
    expect(resolved.server).toBe(server);
    expect(resolved.heartbeat.periodMs).toBe(6000);
  });

  it('passes the scc options through', () => {
    const scc = { stateServerHost: 'state', stateServerPort: 7777, authKey: 'k' };
    expect(resolvePresenceOptions({ scc }).scc).toEqual(scc);
  });
});

describe('resolvePresenceOptions: database', () => {
  it('gives MySQL the UTC time zone and utf8mb4', () => {
    const resolved = resolvePresenceOptions({
      database: { type: 'mysql', host: 'db', username: 'u', password: 'p', database: 'presence' },
    });
    expect(resolved.database).toEqual({
      kind: 'own',
      options: {
        type: 'mysql', host: 'db', username: 'u', password: 'p', database: 'presence',
        timezone: 'Z', charset: 'utf8mb4', synchronize: false, migrationsRun: false,
      },
      migrationsRun: true,
    });
  });

  it('gives MariaDB the UTC time zone and utf8mb4', () => {
    const resolved = resolvePresenceOptions({ database: { type: 'mariadb', host: 'db' } });
    expect(resolved.database).toMatchObject({ kind: 'own', options: { timezone: 'Z', charset: 'utf8mb4' } });
  });

  it('keeps a time zone and charset the user gave', () => {
    const resolved = resolvePresenceOptions({ database: { type: 'mysql', host: 'db', timezone: '+02:00', charset: 'latin1' } });
    expect(resolved.database).toMatchObject({ options: { timezone: '+02:00', charset: 'latin1' } });
  });

  it('does not add MySQL options to SQLite', () => {
    const resolved = resolvePresenceOptions({ database: { type: 'better-sqlite3', database: 'presence.db' } });
    expect(resolved.database).toEqual({
      kind: 'own',
      options: { type: 'better-sqlite3', database: 'presence.db', synchronize: false, migrationsRun: false },
      migrationsRun: true,
    });
  });

  it('never lets TypeORM synchronize or run migrations itself, whatever the user gave', () => {
    const resolved = resolve({ database: { type: 'mysql', host: 'db', synchronize: true } });
    expect(resolved.database).toMatchObject({ options: { synchronize: false, migrationsRun: false } });
  });

  it('keeps the module\'s migrationsRun: false out of the TypeORM options', () => {
    const resolved = resolvePresenceOptions({ database: { type: 'mysql', host: 'db', migrationsRun: false } });
    expect(resolved.database).toMatchObject({ kind: 'own', migrationsRun: false, options: { migrationsRun: false } });
  });

  it('reuses a named data source with { dataSourceName }', () => {
    expect(resolvePresenceOptions({ database: { dataSourceName: 'presence' } }).database).toEqual({
      kind: 'shared', dataSourceName: 'presence', migrationsRun: true,
    });
  });

  it('keeps migrationsRun: false with { dataSourceName }', () => {
    expect(resolvePresenceOptions({ database: { dataSourceName: 'default', migrationsRun: false } }).database).toEqual({
      kind: 'shared', dataSourceName: 'default', migrationsRun: false,
    });
  });

  it('refuses an unsupported database type', () => {
    expect(expectOneProblemAbout({ database: { type: 'postgres', host: 'db' } }, 'database.type')).toContain("'postgres'");
  });

  it('refuses a database without a type', () => {
    expectOneProblemAbout({ database: { host: 'db' } }, 'database.type');
  });

  it('refuses a database that is not an object', () => {
    expect(problemsOf({ database: 'mysql://db' }).some((p) => p.startsWith('database must be an object'))).toBe(true);
  });

  it('refuses a migrationsRun that is not a boolean', () => {
    expectOneProblemAbout({ database: { type: 'mysql', host: 'db', migrationsRun: 'yes' } }, 'database.migrationsRun');
  });

  it('refuses an empty dataSourceName', () => {
    expectOneProblemAbout({ database: { dataSourceName: '' } }, 'database.dataSourceName');
  });
});

describe('resolvePresenceOptions: wrong values name the option', () => {
  it('throws a PresenceConfigError with the option in its message', () => {
    expect(() => resolve({ usercount: { type: 'people' } })).toThrow(PresenceConfigError);
    expect(() => resolve({ usercount: { type: 'people' } })).toThrow(/usercount\.type must be one of 'users', 'sockets', 'subscriptions' \(got 'people'\)/);
  });

  it('names the error PresenceConfigError', () => {
    try {
      resolve({ tableName: 1 });
    } catch (error) {
      expect((error as Error).name).toBe('PresenceConfigError');
      return;
    }
    throw new Error('no error');
  });

  it('refuses options that are not an object', () => {
    expectOneProblemAbout('options', 'options must be an object');
    expectOneProblemAbout([], 'options must be an object');
  });

  it.each([
    ['tableName', { tableName: 42 }],
    ['tableName', { tableName: '' }],
    ['tableName', { tableName: 'presence-users' }],
    ['tableName', { tableName: '1users' }],
    ['tableName', { tableName: 'users; DROP TABLE x' }],
    ['tableName', { tableName: `T${'a'.repeat(51)}` }],
    ['userIdField', { userIdField: 7 }],
    ['userIdField', { userIdField: '' }],
    ['presenceChannel', { presenceChannel: 'x'.repeat(256) }],
    ['presenceChannel', { presenceChannel: null }],
    ['usercount', { usercount: true }],
    ['usercount', { usercount: null }],
    ['usercount.channel', { usercount: { channel: '' } }],
    ['usercount.type', { usercount: { type: 'USERS' } }],
    ['usercount.startupQuietMs', { usercount: { startupQuietMs: -1 } }],
    ['usercount.startupQuietMs', { usercount: { startupQuietMs: '60000' } }],
    ['usercount.connectDelayMs', { usercount: { connectDelayMs: 1.5 } }],
    ['usercount.connectDelayMs', { usercount: { connectDelayMs: Number.NaN } }],
    ['heartbeat', { heartbeat: 6 }],
    ['heartbeat.pingsPerUpdate', { heartbeat: { pingsPerUpdate: 0 } }],
    ['heartbeat.pingsPerUpdate', { heartbeat: { pingsPerUpdate: Infinity } }],
    ['gc', { gc: 'auto' }],
    ['gc.enabled', { gc: { enabled: 'yes' } }],
    ['gc.enabled', { gc: { enabled: 1 } }],
    ['gc.intervalMs', { gc: { intervalMs: 9 } }],
    ['gc.intervalMs', { gc: { intervalMs: '60000' } }],
    ['gc.thresholdMs', { gc: { thresholdMs: -5 } }],
    ['offlineGraceMs', { offlineGraceMs: -1 }],
    ['offlineGraceMs', { offlineGraceMs: 2.5 }],
    ['flushIntervalMs', { flushIntervalMs: -1 }],
    ['statementTimeoutMs', { statementTimeoutMs: 99 }],
    ['statementTimeoutMs', { statementTimeoutMs: '5000' }],
    ['transactionTimeoutMs', { transactionTimeoutMs: 0 }],
    ['transactionTimeoutMs', { statementTimeoutMs: 6000, transactionTimeoutMs: 5000 }],
    ['shutdownTimeoutMs', { shutdownTimeoutMs: 99 }],
    ['shutdownTimeoutMs', { shutdownTimeoutMs: 1.5 }],
    ['scc.stateServerHost', { scc: {} }],
    ['scc.stateServerHost', { scc: { stateServerHost: '' } }],
    ['scc.stateServerPort', { scc: { stateServerHost: 'state', stateServerPort: 0 } }],
    ['server', { server: {} }],
    ['server', { server: 'localhost:8000' }],
    ['socketcluster', { socketcluster: 'x' }],
    ['channelPresence.channels', { channelPresence: {} }],
    ['channelPresence.channels', { channelPresence: { channels: 'room' } }],
    ['channelPresence.channels', { channelPresence: { channels: ['room', 3] } }],
    ['channelPresence.prefix', { channelPresence: { channels: ['room'], prefix: '' } }],
    ['channelPresence.canSubscribe', { channelPresence: { channels: ['room'], canSubscribe: true } }],
  ])('refuses a wrong %s: %j', (path, input) => {
    expectOneProblemAbout(input, path);
  });

  it('refuses channelPresence: true, which says nothing about the channels', () => {
    const problems = problemsOf({ channelPresence: true });
    expect(problems[0]).toBe('channelPresence must be an object (got true)');
  });

  it('says what it got, shortening long strings', () => {
    const problem = expectOneProblemAbout({ userIdField: 'x'.repeat(300) }, 'userIdField');
    expect(problem).toContain('a string of 300 characters');
    expect(problem).not.toContain('x'.repeat(41));
  });

  it('names an unknown top-level option', () => {
    expect(expectOneProblemAbout({ tablename: 'x' }, 'tablename')).toContain('is not an option');
  });

  it.each([
    ['usercount.chanel', { usercount: { chanel: 'X' } }],
    ['heartbeat.interval', { heartbeat: { interval: 1000 } }],
    ['gc.workerId', { gc: { workerId: 0 } }],
    ['channelPresence.channel', { channelPresence: { channels: ['a'], channel: 'a' } }],
  ])('names an unknown nested option %s', (path, input) => {
    expect(expectOneProblemAbout(input, path)).toContain('is not an option');
  });

  it('reports several problems together', () => {
    const problems = problemsOf({
      tableName: 5,
      usercount: { type: 'people', connectDelayMs: -1 },
      gc: { intervalMs: 'often' },
      database: { type: 'oracle' },
      colour: 'blue',
    });
    expect(problems).toHaveLength(6);
    for (const path of ['colour', 'tableName', 'usercount.type', 'usercount.connectDelayMs', 'gc.intervalMs', 'database.type']) {
      expect(problems.some((p) => p.startsWith(path))).toBe(true);
    }
  });

  it('lists every problem in the error message', () => {
    let message = '';
    try {
      resolve({ tableName: 5, gc: { intervalMs: 'often' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('tableName');
    expect(message).toContain('gc.intervalMs');
  });

  it('refuses socketcluster options together with an own server', () => {
    const problem = expectOneProblemAbout({ server: fakeServer(), socketcluster: { pingInterval: 1000 } }, 'socketcluster');
    expect(problem).toContain('server');
  });
});

describe('resolvePresenceOptions: gc.thresholdMs against the heartbeat period', () => {
  it('refuses a threshold equal to pingInterval × pingsPerUpdate', () => {
    const problem = expectOneProblemAbout(
      { socketcluster: { pingInterval: 10_000 }, heartbeat: { pingsPerUpdate: 6 }, gc: { thresholdMs: 60_000 } },
      'gc.thresholdMs',
    );
    expect(problem).toContain('10000 × 6 = 60000');
  });

  it('accepts a threshold one millisecond longer than the period', () => {
    const resolved = resolvePresenceOptions({ socketcluster: { pingInterval: 10_000 }, gc: { thresholdMs: 60_001 } });
    expect(resolved.gc.thresholdMs).toBe(60_001);
    expect(resolved.heartbeat.periodMs).toBe(60_000);
  });

  it('uses socketcluster-server\'s default ping interval of 8 s when none is given', () => {
    expectOneProblemAbout({ gc: { thresholdMs: 48_000 } }, 'gc.thresholdMs');
    expect(resolvePresenceOptions({ gc: { thresholdMs: 48_001 } }).gc.thresholdMs).toBe(48_001);
  });

  it('uses pingsPerUpdate in the period', () => {
    expectOneProblemAbout({ heartbeat: { pingsPerUpdate: 15 } }, 'gc.thresholdMs'); // 8000 × 15 = 120000
    expect(resolvePresenceOptions({ heartbeat: { pingsPerUpdate: 14 } }).heartbeat.periodMs).toBe(112_000);
  });

  it('uses the pingInterval of an own server', () => {
    expectOneProblemAbout({ server: fakeServer(20_000) }, 'gc.thresholdMs'); // 20000 × 6 = 120000
  });
});

describe('resolvePresenceOptions: channelPresence', () => {
  it('matches exactly the channels of an array', () => {
    const { matches } = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: ['room-1', 'room-2'] } }));
    expect(matches('room-1')).toBe(true);
    expect(matches('room-2')).toBe(true);
    expect(matches('room-3')).toBe(false);
    expect(matches('room')).toBe(false);
  });

  it('matches nothing with an empty array', () => {
    expect(channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: [] } })).matches('room')).toBe(false);
  });

  it('matches the channels of a RegExp', () => {
    const { matches } = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: /^room-\d+$/ } }));
    expect(matches('room-12')).toBe(true);
    expect(matches('room-x')).toBe(false);
  });

  it('gives the same answer twice in a row for a RegExp with the g flag', () => {
    const channels = /^room-/g;
    const { matches } = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels } }));
    expect(matches('room-1')).toBe(true);
    expect(matches('room-1')).toBe(true);
    expect(matches('room-2')).toBe(true);
    expect(channels.lastIndex).toBe(0);
  });

  it('gives the same answer twice in a row for a RegExp with the y flag', () => {
    const { matches } = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: /room/y } }));
    expect(matches('room')).toBe(true);
    expect(matches('room')).toBe(true);
  });

  it('keeps the other RegExp flags', () => {
    const { matches } = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: /^room$/gi } }));
    expect(matches('ROOM')).toBe(true);
    expect(matches('ROOM')).toBe(true);
  });

  it('asks a function about each channel', () => {
    const { matches } = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: (ch) => ch.startsWith('game:') } }));
    expect(matches('game:1')).toBe(true);
    expect(matches('chat:1')).toBe(false);
  });

  it('uses the prefix presence: by default', () => {
    expect(channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: ['a'] } })).prefix).toBe('presence:');
  });

  it('keeps a given prefix and canSubscribe', () => {
    const canSubscribe = () => true;
    const resolved = channelPresenceOf(resolvePresenceOptions({ channelPresence: { channels: ['a'], prefix: 'who:', canSubscribe } }));
    expect(resolved.prefix).toBe('who:');
    expect(resolved.canSubscribe).toBe(canSubscribe);
  });

  it('is off with channelPresence: false', () => {
    expect(resolvePresenceOptions({ channelPresence: false }).channelPresence).toBe(false);
  });
});

describe('resolvePresenceOptions: the ping interval behind the heartbeat', () => {
  for (const pingInterval of ['abc', 0, -8000, 1.5]) {
    it(`refuses socketcluster.pingInterval ${JSON.stringify(pingInterval)}`, () => {
      expect(() => resolvePresenceOptions({ socketcluster: { pingInterval: pingInterval as never } })).toThrow(/socketcluster\.pingInterval/);
    });
  }
});

describe('resolvePresenceOptions: limits', () => {
  const defaults = resolvePresenceOptions(undefined);

  it('bounds subscriptions to 1000 per socket and writes status changes at most once a second by default', () => {
    expect(defaults.limits).toEqual({ subscriptionsPerSocket: 1000, statusIntervalMs: 1000 });
  });

  it('stores the token on the presence row by default, or nowhere with storeAuthToken: false', () => {
    expect(defaults.storeAuthToken).toBe('presence-row');
    expect(resolvePresenceOptions({ storeAuthToken: false }).storeAuthToken).toBe(false);
    expect(problemsOf({ storeAuthToken: true })).toEqual(["storeAuthToken must be 'presence-row' or false (got true)"]);
  });

  it('accepts one subscription per socket and no status interval, and refuses less', () => {
    expect(resolvePresenceOptions({ limits: { subscriptionsPerSocket: 1, statusIntervalMs: 0 } }).limits).toEqual({
      subscriptionsPerSocket: 1,
      statusIntervalMs: 0,
    });
    expect(problemsOf({ limits: { subscriptionsPerSocket: 0 } })).toEqual(['limits.subscriptionsPerSocket must be an integer >= 1 (got 0)']);
    expect(problemsOf({ limits: { statusIntervalMs: -1 } })).toEqual(['limits.statusIntervalMs must be an integer >= 0 (got -1)']);
    expect(problemsOf({ limits: { perSocket: 1 } })[0]).toMatch(/limits\.perSocket is not an option/);
  });

  it('keeps a retention of at least a second', () => {
    expect(resolvePresenceOptions({ gc: { retentionMs: 1000 } }).gc.retentionMs).toBe(1000);
    expect(problemsOf({ gc: { retentionMs: 999 } })).toEqual(['gc.retentionMs must be an integer >= 1000 (got 999)']);
  });

  it('gives the attached server a 1 MiB frame limit that socketcluster.maxPayload replaces', () => {
    expect(resolvePresenceOptions({ socketcluster: { maxPayload: 64 * 1024 } }).socketcluster.maxPayload).toBe(64 * 1024);
    expect(problemsOf({ socketcluster: { maxPayload: 1023 } })).toEqual(['socketcluster.maxPayload must be an integer >= 1024 (got 1023)']);
  });
});

describe('resolvePresenceOptions: sessionState', () => {
  it('accepts states of up to 1024 bytes by default, and false turns it off', () => {
    expect(resolvePresenceOptions(undefined).sessionState).toEqual({ maxBytes: 1024 });
    expect(resolvePresenceOptions({ sessionState: {} }).sessionState).toEqual({ maxBytes: 1024 });
    expect(resolvePresenceOptions({ sessionState: { maxBytes: 65535 } }).sessionState).toEqual({ maxBytes: 65535 });
    expect(resolvePresenceOptions({ sessionState: false }).sessionState).toBe(false);
  });

  it('refuses a maxBytes the column cannot hold or no state fits, and anything but an object or false', () => {
    expect(problemsOf({ sessionState: { maxBytes: 65536 } })).toEqual(['sessionState.maxBytes must be at most 65535 (the SCP_state column is a TEXT) (got 65536)']);
    expect(problemsOf({ sessionState: { maxBytes: 1 } })).toEqual(['sessionState.maxBytes must be an integer >= 2 (got 1)']);
    expect(problemsOf({ sessionState: { maxBytes: '1k' } })).toEqual(["sessionState.maxBytes must be an integer >= 2 (got '1k')"]);
    expect(problemsOf({ sessionState: true })).toEqual(['sessionState must be an object (got true)']);
    expect(problemsOf({ sessionState: { max: 1 } })[0]).toMatch(/sessionState\.max is not an option/);
  });
});
