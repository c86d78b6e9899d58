import { requireOptionalPeer } from '../options/optional-peer.loader.js';
import { PresenceConfigError } from '../presence.errors.js';
import { SQLITE_UNBUILT } from '../presence.messages.js';

const DRIVERS: Record<string, string> = { mysql: 'mysql2', mariadb: 'mysql2', 'better-sqlite3': 'better-sqlite3' };

/** Loads the driver package a database type needs (and opens better-sqlite3 once) before TypeORM does. */
export function assertDatabaseDriver(type: string): void {
  const name = DRIVERS[type];
  if (!name) return;
  const option = type === 'better-sqlite3' ? "database.type 'better-sqlite3' (the default: embedded SQLite)" : `database.type '${type}'`;
  const Driver = requireOptionalPeer<new (file: string) => { close(): void }>(name, option, `npm install ${name}`);
  if (name !== 'better-sqlite3') return;
  // Installed without its build step (npm 11 runs no install scripts unless allowed) it loads, then fails here.
  try {
    new Driver(':memory:').close();
  } catch (error) {
    throw new PresenceConfigError([SQLITE_UNBUILT(option, (error as Error).message.split('\n')[0])]);
  }
}
