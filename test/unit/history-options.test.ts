import { describe, expect, it } from 'vitest';
import { problemsOf, resolve } from '../support/resolve-options.js';


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
