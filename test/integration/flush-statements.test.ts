/**
 * What one flush costs, statement by statement, on each backend, and that a stream of changes that never pauses
 * is still written in several flushes while it lasts (the wait of a change is bounded, not only the pause).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { BACKENDS, databaseOptions, dropTables, sleep, startPresenceApp, uniqueTable, type Backend, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll } from '../support/clients.js';
import { StatementLog, statementKind } from '../support/sql-counter.js';

const USERS = 30;

describe.each(BACKENDS)('statements per flush (%s)', (backend: Backend) => {
  let ctx: PresenceApp | undefined;
  const sockets: AGClientSocket[] = [];

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    if (ctx && backend === 'mariadb') await dropTables(ctx.table);
    ctx = undefined;
  });

  async function start(flushIntervalMs: number): Promise<{ app: PresenceApp; log: StatementLog }> {
    const table = uniqueTable('flush');
    const log = new StatementLog({ baseTable: table });
    ctx = await startPresenceApp({ database: { ...databaseOptions(backend), logger: log } as never, tableName: table, flushIntervalMs, usercount: false });
    return { app: ctx, log };
  }

  /**
   * The kinds of the statements logged since `from`, in order; without the isolation level that a pooled MySQL
   * connection is switched to once, when the flush is the first to use it.
   */
  const kindsSince = (log: StatementLog, from: number) =>
    log.queries.slice(from).map((query) => statementKind(query, ctx!.table)).filter((kind) => kind !== 'SET');

  it('a flush of new users connecting, then of some of them leaving', async () => {
    // An interval far longer than the test: only the reads below (which wait for this instance's writes) flush.
    const { app, log } = await start(60_000);
    const userIds = Array.from({ length: USERS }, (_, i) => `flush-${i}`);
    sockets.push(...(await Promise.all(userIds.map((user_id) => connectClient(app.port, app.server, { token: { user_id } })))));
    await sleep(50); // every connection event has reached the writer

    let from = log.queries.length;
    expect(Object.values(await app.presence.getUserStatuses(userIds))).toEqual(userIds.map(() => 'online'));
    const connectFlush = kindsSince(log, from).slice(0, -1); // the read itself is the last statement
    if (backend === 'sqlite') {
      // No row locks to take: no INSERT IGNORE ahead, and the statuses are read with the sessions in one statement.
      expect(connectFlush).toEqual(['BEGIN TRANSACTION', 'UPSERT sockets', 'SELECT … GROUP BY status', 'UPSERT status', 'COMMIT']);
    } else {
      expect(connectFlush).toEqual([
        'START TRANSACTION', 'UPSERT sockets', 'SELECT … FOR UPDATE status', 'INSERT IGNORE status', 'SELECT … GROUP BY sockets', 'UPSERT status', 'COMMIT',
      ]);
    }

    const leaving = sockets.splice(0, USERS / 2);
    await disconnectAll(...leaving);
    await sleep(50);
    from = log.queries.length;
    const statuses = await app.presence.getUserStatuses(userIds);
    expect(Object.values(statuses).filter((status) => status === 'offline')).toHaveLength(USERS / 2);
    const leaveFlush = kindsSince(log, from).slice(0, -1);
    if (backend === 'sqlite') {
      expect(leaveFlush).toEqual(['BEGIN TRANSACTION', 'DELETE sockets', 'SELECT … GROUP BY status', 'UPSERT status', 'COMMIT']);
    } else {
      expect(leaveFlush).toEqual(['START TRANSACTION', 'DELETE sockets', 'SELECT … FOR UPDATE status', 'SELECT … GROUP BY sockets', 'UPSERT status', 'COMMIT']);
    }
  });

  it('a user whose only socket came and went within one flush is not stored at all', async () => {
    const { app, log } = await start(60_000);
    const socket = await connectClient(app.port, app.server, { token: { user_id: 'fleeting' } });
    await disconnectAll(socket);
    await sleep(50);
    const from = log.queries.length;
    const [details] = Object.values(await app.presence.getUserStatusDetails(['fleeting']));
    expect(details).toEqual({ status: 'offline', since: null, lastSeen: null });
    expect(kindsSince(log, from)).toEqual(['SELECT status']); // the read: the flush had nothing to write
  });

  it('a stream of changes that never pauses for an interval is written in several flushes while it lasts', async () => {
    const { app, log } = await start(40);
    const from = log.queries.length;
    // One connect every 5 ms: never a pause of 40 ms, and 3 intervals pass several times before the last one.
    const connecting: Array<Promise<number>> = [];
    for (let i = 0; i < 80; i++) {
      connecting.push(connectClient(app.port, app.server, { token: { user_id: `stream-${i}` } }).then((socket) => sockets.push(socket)));
      await sleep(5);
    }
    // Every socket is open before the test ends, so that afterEach disconnects them all before it closes the app.
    await Promise.all(connecting);
    const begins = kindsSince(log, from).filter((kind) => kind === (backend === 'sqlite' ? 'BEGIN TRANSACTION' : 'START TRANSACTION'));
    expect(begins.length).toBeGreaterThanOrEqual(2);
  });
});
