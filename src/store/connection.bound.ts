import type { QueryRunner } from 'typeorm';
import { PresenceError } from '../presence.errors.js';
import { DATABASE_TIMEOUT } from '../presence.messages.js';

/** The database did not answer within a bound; the connection it was waiting on has been destroyed. */
export class DatabaseTimeoutError extends PresenceError {}

/** Driver errors that leave a pooled connection in an unknown protocol state. */
const DEAD_CONNECTION = new Set(['PROTOCOL_SEQUENCE_TIMEOUT', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);

interface PooledConnection {
  destroy(): void;
}

interface RunnerInternals {
  databaseConnection?: PooledConnection;
  databaseConnectionPromise?: Promise<PooledConnection>;
}

/** The driver's error code (`ER_LOCK_DEADLOCK`, `ECONNRESET`, …), whether TypeORM wrapped the error or not. */
export function driverErrorCode(error: unknown): string | undefined {
  const e = error as { code?: string; driverError?: { code?: string } } | null | undefined;
  return e?.driverError?.code ?? e?.code;
}

export function isDeadConnection(error: unknown): boolean {
  if (error instanceof DatabaseTimeoutError) return true;
  const code = driverErrorCode(error);
  return code !== undefined && DEAD_CONNECTION.has(code);
}

/**
 * Destroys the runner's pooled connection, now or as soon as it arrives. mysql2 does not close a connection
 * whose query timed out: the query stays at the head of its command queue, so the pool would hand out a
 * connection on which every later statement waits forever. Destroying it also removes it from the pool.
 */
export function evict(runner: QueryRunner): void {
  const internals = runner as unknown as RunnerInternals;
  if (internals.databaseConnection) internals.databaseConnection.destroy();
  else internals.databaseConnectionPromise?.then((connection) => connection.destroy(), () => undefined);
}

/**
 * Settles with `work`, or rejects with a DatabaseTimeoutError after `ms` and evicts the runner's connection.
 * A late result of `work` is dropped.
 */
export function within<T>(runner: QueryRunner, work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      evict(runner);
      reject(new DatabaseTimeoutError(DATABASE_TIMEOUT(what, ms)));
    }, ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves with `work`, or with `undefined` once `ms` have passed; `work` keeps running. */
export async function settledWithin<T>(work: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ done: false }>((resolve) => (timer = setTimeout(() => resolve({ done: false }), ms)));
  try {
    return await Promise.race([work.then((value) => ({ done: true as const, value })), late]);
  } finally {
    clearTimeout(timer);
  }
}
