import { describe, expect, it } from 'vitest';
import type { QueryRunner } from 'typeorm';
import { DatabaseTimeoutError, evict, isDeadConnection, settledWithin, within } from '../../src/store/connection.bound.js';

/** A query runner as TypeORM's mysql driver holds it: a pooled connection, or the promise of one. */
function fakeRunner(connection?: { destroyed: number }, pending?: Promise<{ destroyed: number }>) {
  const wrap = (c: { destroyed: number }) => ({ destroy: () => void c.destroyed++ });
  return {
    databaseConnection: connection ? wrap(connection) : undefined,
    databaseConnectionPromise: pending?.then(wrap),
  } as unknown as QueryRunner;
}

const never = new Promise<never>(() => undefined);

describe('bounded database work', () => {
  it('rejects with a DatabaseTimeoutError after the bound and destroys the connection, so the pool cannot hand it out again', async () => {
    const connection = { destroyed: 0 };
    const error = await within(fakeRunner(connection), never, 20, 'a statement').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseTimeoutError);
    expect((error as Error).message).toContain('within 20 ms');
    expect(connection.destroyed).toBe(1);
  });

  it('leaves the connection alone when the work settles in time', async () => {
    const connection = { destroyed: 0 };
    await expect(within(fakeRunner(connection), Promise.resolve(7), 1000, 'a statement')).resolves.toBe(7);
    await expect(within(fakeRunner(connection), Promise.reject(new Error('syntax')), 1000, 'a statement')).rejects.toThrow('syntax');
    expect(connection.destroyed).toBe(0);
  });

  it('destroys a connection that arrives after its connection attempt was given up on', async () => {
    const late = { destroyed: 0 };
    let arrive!: (c: { destroyed: number }) => void;
    const runner = fakeRunner(undefined, new Promise((resolve) => (arrive = resolve)));
    evict(runner);
    arrive(late);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(late.destroyed).toBe(1);
  });

  it.each([
    ['our own bound', new DatabaseTimeoutError('x'), true],
    ['a mysql2 query timeout', Object.assign(new Error('Query inactivity timeout'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }), true],
    ['a TypeORM wrapped connect timeout', { driverError: { code: 'ETIMEDOUT' } }, true],
    ['a lost connection', { code: 'PROTOCOL_CONNECTION_LOST' }, true],
    ['a deadlock', { code: 'ER_LOCK_DEADLOCK' }, false],
    ['a plain error', new Error('syntax'), false],
  ])('tells a dead connection from a live one: %s', (_name, error, dead) => {
    expect(isDeadConnection(error)).toBe(dead);
  });

  it('says whether work settled within a time, without stopping it', async () => {
    expect(await settledWithin(Promise.resolve('ok'), 1000)).toEqual({ done: true, value: 'ok' });
    expect(await settledWithin(never, 10)).toEqual({ done: false });
  });
});
