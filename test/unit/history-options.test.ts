import { describe, expect, it } from 'vitest';
import { resolvePresenceOptions } from '../../src/options/presence-options.resolver.js';
import type { PresenceModuleOptions } from '../../src/options/presence-options.interface.js';
import { PresenceConfigError } from '../../src/presence.errors.js';

/** Options are validated at run time, so tests pass values the types would refuse. */
const resolve = (input: unknown) => resolvePresenceOptions(input as PresenceModuleOptions);

function problemsOf(input: unknown): string[] {
  try {
    resolve(input);
  } catch (error) {
    expect(error).toBeInstanceOf(PresenceConfigError);
    return (error as PresenceConfigError).problems;
  }
  throw new Error(`options were accepted: ${JSON.stringify(input)}`);
}

describe('resolvePresenceOptions: history', () => {
  it('is off by default and with false', () => {
    expect(resolve(undefined).history).toBe(false);
    expect(resolve({ history: false }).history).toBe(false);
  });

  it('keeps 30 days unless told otherwise, at least 1 s', () => {
    expect(resolve({ history: {} }).history).toEqual({ retentionMs: 30 * 24 * 3_600_000 });
    expect(resolve({ history: { retentionMs: 1000 } }).history).toEqual({ retentionMs: 1000 });
  });

  it('names what is wrong', () => {
    expect(problemsOf({ history: true })).toEqual(['history must be false or { retentionMs } (got true)']);
    expect(problemsOf({ history: 'yes' })).toEqual(["history must be false or { retentionMs } (got 'yes')"]);
    expect(problemsOf({ history: { retentionMs: 999 } })).toEqual(['history.retentionMs must be an integer >= 1000 (got 999)']);
    expect(problemsOf({ history: { retentionMs: '1d' } })).toHaveLength(1);
    expect(problemsOf({ history: { retention: 1000 } })).toEqual([expect.stringMatching(/^history\.retention is not an option/)]);
  });
});
