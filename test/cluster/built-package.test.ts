import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { assertBuilt, ROOT } from './support/processes.js';

const run = promisify(execFile);

/*
 * The built package as an app's CommonJS code sees it: Nest 12 is ESM, but Node ≥ 20.19 loads ES modules with
 * require(), which needs a condition of the exports map that require() matches. Resolved by the package's own
 * name from its root, through the same exports map an installed copy has.
 */
describe('the built package from CommonJS', () => {
  it('require() resolves both entry points', async () => {
    assertBuilt();
    const script = `
      const server = require('nestjs-sc-presence');
      const client = require('nestjs-sc-presence/client');
      console.log(JSON.stringify([typeof server.PresenceModule, typeof server.PresenceService, typeof client.createPresenceClient]));
    `;
    const { stdout } = await run(process.execPath, ['--no-warnings', '-e', script], { cwd: ROOT });
    expect(JSON.parse(stdout.trim())).toEqual(['function', 'function', 'function']);
  });
});
