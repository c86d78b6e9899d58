import { expect } from 'vitest';
import { resolvePresenceOptions } from '../../src/options/presence-options.resolver.js';
import type { PresenceModuleOptions } from '../../src/options/presence-options.interface.js';
import { PresenceConfigError } from '../../src/presence.errors.js';

/** Options are validated at run time, so tests pass values the types would refuse. */
export const resolve = (input: unknown) => resolvePresenceOptions(input as PresenceModuleOptions);

/** The problems reported for `input`; fails the test when the options are accepted. */
export function problemsOf(input: unknown): string[] {
  try {
    resolve(input);
  } catch (error) {
    expect(error).toBeInstanceOf(PresenceConfigError);
    return (error as PresenceConfigError).problems;
  }
  throw new Error(`options were accepted: ${JSON.stringify(input)}`);
}
