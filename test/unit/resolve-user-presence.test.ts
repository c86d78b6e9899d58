import { describe, expect, it } from 'vitest';
import { problemsOf, resolve } from '../support/resolve-options.js';

describe('resolvePresenceOptions: userPresence', () => {
  it('is off by default and with false', () => {
    expect(resolve({}).userPresence).toBe(false);
    expect(resolve({ userPresence: false }).userPresence).toBe(false);
  });

  it('applies the defaults to an empty object', () => {
    expect(resolve({ userPresence: {} }).userPresence).toEqual({ prefix: 'presence:user:', canWatch: undefined, maxIds: 100 });
  });

  it('keeps a given prefix, canWatch and maxIds', () => {
    const canWatch = () => true;
    expect(resolve({ userPresence: { prefix: 'friends/', canWatch, maxIds: 7 } }).userPresence).toEqual({ prefix: 'friends/', canWatch, maxIds: 7 });
  });

  it.each([
    [{ userPresence: true }, 'userPresence must be an object (got true)'],
    [{ userPresence: { prefix: '' } }, 'userPresence.prefix must be a non-empty string of at most 254 characters'],
    [{ userPresence: { prefix: 'x'.repeat(255) } }, 'userPresence.prefix must be a non-empty string of at most 254 characters'],
    [{ userPresence: { canWatch: 'yes' } }, 'userPresence.canWatch must be a function'],
    [{ userPresence: { maxIds: 0 } }, 'userPresence.maxIds must be an integer >= 1'],
    [{ userPresence: { maxIds: 2.5 } }, 'userPresence.maxIds must be an integer >= 1'],
    [{ userPresence: { maxIds: 1001 } }, 'userPresence.maxIds must be an integer from 1 to 1000'],
    [{ userPresence: { watch: true } }, 'userPresence.watch is not an option'],
  ])('refuses %j, naming the option', (input, start) => {
    const problems = problemsOf(input);
    expect(problems).toHaveLength(1);
    expect(problems[0].startsWith(start)).toBe(true);
  });

  it('keeps the channels under the user prefix out of channel presence when the user prefix lies inside its prefix', () => {
    const resolved = resolve({ channelPresence: { channels: () => true }, userPresence: {} });
    if (!resolved.channelPresence) throw new Error('channelPresence is off');
    expect(resolved.channelPresence.matches('room:1')).toBe(true);
    expect(resolved.channelPresence.matches('users')).toBe(true);
    // 'presence:' + 'user:42' would be the channel of user 42.
    expect(resolved.channelPresence.matches('user:42')).toBe(false);
    // Without user presence, such a channel has presence as before.
    const alone = resolve({ channelPresence: { channels: () => true } });
    expect(alone.channelPresence && alone.channelPresence.matches('user:42')).toBe(true);
  });

  it('leaves channel presence alone when the prefixes do not nest', () => {
    const resolved = resolve({ channelPresence: { channels: () => true }, userPresence: { prefix: 'watch:' } });
    expect(resolved.channelPresence && resolved.channelPresence.matches('user:42')).toBe(true);
  });

  it('refuses a user prefix that every channel presence channel would start with', () => {
    for (const prefix of ['presence:', 'pres']) {
      const problems = problemsOf({ channelPresence: { channels: ['a'] }, userPresence: { prefix } });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^userPresence\.prefix \('.*'\) must not be the start of channelPresence\.prefix \('presence:'\)/);
    }
  });
});
