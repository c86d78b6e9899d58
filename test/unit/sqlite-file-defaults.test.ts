import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { checkpointsInThread, withSqliteFileDefaults } from '../../src/store/sqlite-file.defaults.js';

const dirs: string[] = [];
const sources: DataSource[] = [];

afterEach(async () => {
  for (const ds of sources.splice(0)) await ds.destroy();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scp-sqlite-'));
  dirs.push(dir);
  return join(dir, 'presence.sqlite');
}

/** The journal mode and synchronous level a real better-sqlite3 connection opened with these options runs in. */
async function pragmasOf(options: Record<string, unknown>): Promise<{ journal: string; synchronous: number }> {
  const ds = new DataSource(withSqliteFileDefaults({ type: 'better-sqlite3', ...options }) as never);
  sources.push(ds);
  await ds.initialize();
  const [{ journal_mode: journal }] = (await ds.query('PRAGMA journal_mode')) as Array<{ journal_mode: string }>;
  const [{ synchronous }] = (await ds.query('PRAGMA synchronous')) as Array<{ synchronous: number }>;
  return { journal, synchronous };
}

describe('SQLite file defaults', () => {
  it('opens a file the app chose no journal for in WAL with synchronous=NORMAL', async () => {
    expect(await pragmasOf({ database: sqliteFile() })).toEqual({ journal: 'wal', synchronous: 1 });
  });

  it("keeps the app's choice of enableWAL: false", async () => {
    expect(await pragmasOf({ database: sqliteFile(), enableWAL: false })).toEqual({ journal: 'delete', synchronous: 2 });
  });

  it("runs the app's prepareDatabase after its own pragmas, so the app's synchronous wins", async () => {
    const prepareDatabase = (db: { pragma(source: string): unknown }) => db.pragma('synchronous = FULL');
    expect(await pragmasOf({ database: sqliteFile(), prepareDatabase })).toEqual({ journal: 'wal', synchronous: 2 });
  });

  it('leaves an in-memory database as it is', () => {
    const options = { type: 'better-sqlite3', database: ':memory:' };
    expect(withSqliteFileDefaults(options)).toBe(options);
  });

  it('has a thread checkpoint a file under these defaults, unless a second connection could not open it alike', () => {
    const file = { type: 'better-sqlite3', database: '/data/presence.sqlite' };
    expect(checkpointsInThread(file)).toEqual({ nativeBinding: undefined });
    expect(checkpointsInThread({ ...file, nativeBinding: '/opt/addon.node' })).toEqual({ nativeBinding: '/opt/addon.node' });
    expect(checkpointsInThread({ ...file, nativeBinding: {} })).toBeUndefined();
    expect(checkpointsInThread({ ...file, driver: {} })).toBeUndefined();
    expect(checkpointsInThread({ ...file, key: 'secret' })).toBeUndefined();
    expect(checkpointsInThread({ ...file, enableWAL: true })).toBeUndefined();
    expect(checkpointsInThread({ type: 'better-sqlite3', database: ':memory:' })).toBeUndefined();
    expect(checkpointsInThread({ type: 'mysql', database: 'test' })).toBeUndefined();
  });
});
