import 'reflect-metadata';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Test } from '@nestjs/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PresenceDatabaseError, PresenceModule, type PresenceModuleOptions } from '../../src/index.js';
import { MYSQL_URL, uniqueTable } from '../support/presence-app.js';

/*
 * A database that cannot be opened fails app.init() with a PresenceDatabaseError that names the database (never
 * its password), gives the driver's reason and says what to check.
 */

async function initError(database: PresenceModuleOptions['database']): Promise<Error> {
  const moduleRef = await Test.createTestingModule({ imports: [PresenceModule.forRoot({ database, tableName: uniqueTable() })] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  const error = await app.init().then(
    () => undefined,
    (e: Error) => e,
  );
  await app.close().catch(() => undefined);
  expect(error, 'app.init() should have failed').toBeInstanceOf(Error);
  return error!;
}

/** A port nothing listens on: one the kernel just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function urlWith(change: (url: URL) => void): string {
  const url = new URL(MYSQL_URL);
  change(url);
  return url.toString();
}

describe('a database that cannot be opened', () => {
  it('nothing listening: names the server and says to check host, port and that it is up', async () => {
    const port = await closedPort();
    const url = urlWith((u) => {
      u.hostname = '127.0.0.1';
      u.port = String(port);
    });
    const error = await initError({ type: 'mysql', url });
    expect(error).toBeInstanceOf(PresenceDatabaseError);
    expect(error.message).toBe(
      `PresenceModule could not open its database (mysql ${url}): connect ECONNREFUSED 127.0.0.1:${port}. ` +
        'Check the host and port in database.url (or database.host / database.port), and that the server is up and reachable from here.',
    );
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('a database that does not exist: says to create it', async () => {
    const name = `no_such_db_${Date.now()}`;
    const error = await initError({ type: 'mysql', url: urlWith((u) => (u.pathname = `/${name}`)) });
    expect(error).toBeInstanceOf(PresenceDatabaseError);
    expect(error.message).toContain(`Unknown database '${name}'. Create that database first`);
  });

  it('a wrong password: says to check the user and password, and never shows the password', async () => {
    const error = await initError({ type: 'mysql', url: urlWith((u) => (u.password = 'not-the-password')) });
    expect(error).toBeInstanceOf(PresenceDatabaseError);
    expect(error.message).toContain(':***@');
    expect(error.message).not.toContain('not-the-password');
    expect(error.message).toContain('Access denied');
    expect(error.message).toContain('Check the user and password in database.url');
  });

  it('a SQLite file whose directory cannot be made: names the file and says to check its directory', async () => {
    // The "directory" is a file: TypeORM makes a directory that is missing, and fails here.
    const notADirectory = join(tmpdir(), `not-a-dir-${Date.now()}`);
    writeFileSync(notADirectory, '');
    onTestFinished(() => rmSync(notADirectory, { force: true }));
    const file = join(notADirectory, 'presence.sqlite');
    const error = await initError({ type: 'better-sqlite3', database: file });
    expect(error).toBeInstanceOf(PresenceDatabaseError);
    expect(error.message).toContain(`(SQLite ${file})`);
    expect(error.message).toContain("Check that the SQLite file's directory exists");
  });

  it('a file that is not a SQLite database: says to give the module a file of its own', async () => {
    const file = join(tmpdir(), `not-sqlite-${Date.now()}.sqlite`);
    writeFileSync(file, 'x'.repeat(4096));
    onTestFinished(() => rmSync(file, { force: true }));
    const error = await initError({ type: 'better-sqlite3', database: file });
    expect(error).toBeInstanceOf(PresenceDatabaseError);
    expect(error.message).toContain('That file is not a SQLite database');
  });
});
