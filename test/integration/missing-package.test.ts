import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MYSQL_URL, uniqueTable } from '../support/presence-app.js';

/*
 * An app whose optional peer is not installed: a child process where the package cannot be resolved boots
 * PresenceModule from dist/ and reports how app.init() ended.
 */
const run = promisify(execFile);
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

async function initWithout(hide: string, options: object) {
  const { stdout } = await run(process.execPath, ['-r', `${FIXTURES}without-package.cjs`, `${FIXTURES}init-app.mjs`], {
    env: { ...process.env, PRESENCE_HIDE_PACKAGES: hide, PRESENCE_OPTIONS: JSON.stringify(options) },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { ok?: true; name?: string; message?: string };
}

describe.runIf(existsSync(new URL('../../dist/index.js', import.meta.url)))('app.init() without an optional peer it needs', () => {
  it.each([
    ['mysql2', { database: { type: 'mysql', url: MYSQL_URL } }, "database.type 'mysql' needs the package 'mysql2', which is not installed: run `npm install mysql2`"],
    ['better-sqlite3', {}, "database.type 'better-sqlite3' (the default: embedded SQLite) needs the package 'better-sqlite3', which is not installed: run `npm install better-sqlite3`"],
    ['scc-broker-client', { scc: { stateServerHost: '127.0.0.1', stateServerPort: 1 } }, "scc needs the package 'scc-broker-client', which is not installed: run `npm pkg set overrides.scc-broker-client.skeleton-rendezvous=1.1.3 && npm install scc-broker-client@10`"],
  ])('without %s: a PresenceConfigError with the option and the install command', async (hide, options, message) => {
    const outcome = await initWithout(hide, { tableName: uniqueTable('peer'), ...options });
    expect(outcome.name).toBe('PresenceConfigError');
    expect(outcome.message).toContain(message);
  });

  it('starts when nothing is hidden (the fixture itself works)', async () => {
    expect(await initWithout('', {})).toEqual({ ok: true });
  });
});
