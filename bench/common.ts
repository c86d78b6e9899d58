/**
 * Pieces shared by the bench's three processes: the clock, the IPC request/reply protocol, HS256 tokens and the
 * SQL statement classifier.
 */
import { createHmac } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';

/**
 * Epoch milliseconds of the system clock, read at the call, so that a time taken in the load process can be
 * compared with one taken in the server or the driver. `performance.timeOrigin + performance.now()` is not that:
 * each process fixes its origin when it starts, and a clock correction in between (on a freshly booted machine the
 * clock was being corrected by more than 500 ms) leaves processes started before and after it that far apart.
 */
export const now = (): number => Date.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- IPC

export interface Request {
  kind: 'request';
  id: number;
  cmd: string;
  args?: unknown;
}

export interface Reply {
  kind: 'reply';
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** Something a child reports without being asked (a published user count, readiness). */
export interface Notice {
  kind: 'notice';
  type: string;
  [key: string]: unknown;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout; cmd: string };

/** The parent's side of a child process: requests with a time limit, notices to a callback. */
export class Peer {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited?: string;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onNotice: (notice: Notice) => void = () => undefined,
  ) {
    child.on('message', (message: Reply | Notice) => {
      if (message.kind === 'notice') return onNotice(message);
      if (message.kind !== 'reply') return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${this.name} ${pending.cmd}: ${message.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = `${this.name} exited (code ${code}, signal ${signal})`;
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`${this.exited} during ${pending.cmd}`));
        this.pending.delete(id);
      }
    });
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  request<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.exited} before ${cmd}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} ${cmd}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, cmd });
      this.child.send({ kind: 'request', id, cmd, args } satisfies Request);
    });
  }
}

/** The child's side: answers requests with the handlers, and exits when the parent goes away. */
export function serve(handlers: Record<string, (args: never) => unknown>): void {
  if (!process.send) throw new Error('this process must be started by bench/run.ts (it needs an IPC channel)');
  process.on('disconnect', () => process.exit(2));
  process.on('message', (message: Request) => {
    if (message?.kind !== 'request') return;
    const handler = handlers[message.cmd];
    void (async () => {
      let reply: Reply;
      try {
        if (!handler) throw new Error(`unknown command '${message.cmd}'`);
        reply = { kind: 'reply', id: message.id, ok: true, result: await handler(message.args as never) };
      } catch (error) {
        reply = { kind: 'reply', id: message.id, ok: false, error: (error as Error).stack ?? String(error) };
      }
      process.send?.(reply);
    })();
  });
}

export function notify(type: string, data: Record<string, unknown> = {}): void {
  process.send?.({ kind: 'notice', type, ...data } satisfies Notice);
}

// ---------------------------------------------------------------- tokens

const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/**
 * An HS256 JWT, what socketcluster-server's default auth engine verifies with its `authKey` (the same as the
 * server's own `socket.setAuthToken` would issue).
 */
export function signToken(payload: Record<string, unknown>, authKey: string): string {
  const iat = Math.floor(Date.now() / 1000);
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify({ ...payload, iat, exp: iat + 86_400 }));
  const signature = createHmac('sha256', authKey).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

// ---------------------------------------------------------------- wire types

export interface ServerConfig {
  mode: 'plain' | 'sqlite' | 'mariadb';
  /** plain: with an inbound middleware that allows every action, as an app's own middleware would. */
  passThroughMiddleware?: boolean;
  authKey: string;
  pingInterval: number;
  pingsPerUpdate?: number;
  gc?: { intervalMs: number; thresholdMs: number };
  tableName?: string;
  sqliteFile?: string;
  mysqlUrl?: string;
  /** Every statement is appended to this file (PRESENCE_BENCH_LOG_SQL=1). */
  sqlLogFile?: string;
}

export interface HeapReading {
  heapUsed: number;
  heapTotal: number;
  external: number;
  rss: number;
  clients: number;
}

export type { SqlCounters } from '../test/support/sql-counter.js';

export interface ConnectArgs {
  port: number;
  n: number;
  prefix: string;
  authKey: string;
  concurrency: number;
  timeoutMs: number;
}

export interface ConnectResult {
  ok: number;
  failed: number;
  notAuthenticated: number;
  errors: string[];
  /** When the first socket was created. */
  t0: number;
  /** When the last socket's last subscription was acknowledged: the end of the storm. */
  tEnd: number;
}

export interface IdleResult {
  idle: number;
  failed: number;
  errors: string[];
  t0: number;
  t1: number;
}

/** Each socket of the group sets its state `times` times, spread evenly over `durationMs`. */
export interface StateArgs {
  times: number;
  durationMs: number;
  timeoutMs: number;
}

export interface StateResult {
  calls: number;
  failed: number;
  /** Of the failed: answered late, not refused (not stored within statementTimeoutMs, or no answer within the ack timeout). */
  late: number;
  errors: string[];
  /** When the first call was sent, the last was sent, and the last answered. */
  t0: number;
  tSent: number;
  t1: number;
}

/**
 * The state a bench socket sets at its k-th change (1-based): a device, a typing flag, a short status line,
 * about 90 bytes as JSON. Its keys are in sorted order, so `JSON.stringify` gives the text the module stores.
 */
export function benchState(k: number): Record<string, unknown> {
  return { device: 'desktop', n: k, status: 'In a meeting until 15:00', tab: 'inbox', typing: k % 2 === 1 };
}

export interface DisconnectResult {
  /** [userId, time the disconnect was sent] */
  sent: Array<[string, number]>;
  tFirst: number;
  tLast: number;
}
