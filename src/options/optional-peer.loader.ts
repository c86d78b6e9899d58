import { createRequire } from 'node:module';
import { PresenceConfigError } from '../presence.errors.js';
import { PEER_BROKEN, PEER_MISSING } from '../presence.messages.js';

const require = createRequire(import.meta.url);

/**
 * Loads a package the module needs only for some options (a database driver, scc-broker-client). They are
 * optional peers, so an app installs only what its options use; a missing one fails startup with the command
 * that installs it, instead of a bare "Cannot find module" from deep inside TypeORM.
 */
export function requireOptionalPeer<T = unknown>(name: string, option: string, install: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const missing = code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`);
    throw new PresenceConfigError([
      missing ? PEER_MISSING(option, name, install) : PEER_BROKEN(option, name, install, (error as Error).message),
    ]);
  }
}
