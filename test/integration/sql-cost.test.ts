/**
 * Batching proof: how many SQL statements a connect / subscribe / disconnect storm costs on MariaDB.
 *
 * Two counts are taken for each scenario:
 * - statements the module sent, counted exactly on its own DataSource (a TypeORM logger sees every query of
 *   its pool, START TRANSACTION and COMMIT included). The assertions use this one: it is not disturbed by
 *   other test files that run at the same time on the same server.
 * - MariaDB's global `Questions` counter, read before and after from a separate connection, minus the
 *   statements that connection issued itself. performance_schema (which could count per thread) is off on a
 *   default MariaDB, so this is server-wide: it equals the first count only when no other client is busy on
 *   the server, i.e. when this file runs alone (`npx vitest run … test/integration/sql-cost.test.ts`). It is
 *   logged, and checked only to be at least the module's own count.
 *
 * PRESENCE_COST_SOCKETS sets the size of the storm (default 200), e.g. PRESENCE_COST_SOCKETS=500.
 * PRESENCE_COST_LOG=1 also prints the statements of each scenario.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import { BACKENDS, MYSQL_URL, dropTables, eventually, sleep, startPresenceApp, uniqueTable, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';
import { QuestionsMeter, SqlStatementCounter } from '../support/sql-counter.js';

const STORM = Number(process.env.PRESENCE_COST_SOCKETS ?? 200);
/** connect, subscribe, subscribe, disconnect */
const EVENTS_PER_SOCKET = 4;
const CONNECT_DELAY_MS = 200;

interface Cost {
  sockets: number;
  events: number;
  /** Statements the module sent (exact). */
  statements: number;
  /** Server-wide Questions delta minus the measuring connection's own statements. */
  questions: number;
}

describe.runIf(BACKENDS.includes('mariadb')).sequential('SQL statements per event (mariadb)', () => {
  let ctx: PresenceApp | undefined;
  let meter: QuestionsMeter | undefined;
  const sockets: AGClientSocket[] = [];

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await ctx?.close();
    if (ctx) await dropTables(ctx.table);
    await meter?.close();
    ctx = undefined;
    meter = undefined;
  });

  /** n authenticated sockets connect together, each subscribes to 2 channels, then all disconnect. */
  async function measure(n: number): Promise<Cost> {
    const logger = new SqlStatementCounter({ record: Boolean(process.env.PRESENCE_COST_LOG) });
    ctx = await startPresenceApp({
      database: { type: 'mysql', url: MYSQL_URL, logger },
      tableName: uniqueTable('cost'),
      usercount: { startupQuietMs: 0, connectDelayMs: CONNECT_DELAY_MS },
    });
    meter = await QuestionsMeter.open({ type: 'mysql', url: MYSQL_URL });
    const rows = async () => {
      const [row] = await meter!.query<{ n: string | number }>(`SELECT COUNT(*) AS n FROM \`${ctx!.table}\``);
      return Number(row.n);
    };
    await sleep(100); // startup statements (migration, first lease) are done and not counted

    // What one Questions read costs on its own (the SHOW itself), to subtract it.
    const perRead = await meter.calibrate();

    const sentBefore = meter.sent;
    const q0 = await meter.questions();
    const m0 = logger.total;

    // Each phase is waited for until it is stored, so that every event really costs a write.
    const clients = await Promise.all(
      Array.from({ length: n }, (_, i) => connectClient(ctx!.port, ctx!.server, { token: { user_id: `cost-${i}` } })),
    );
    sockets.push(...clients);
    await eventually(async () => expect(await rows()).toBe(n), 20_000, 50);
    await Promise.all(clients.flatMap((socket) => [subscribe(socket, 'cost:a'), subscribe(socket, 'cost:b')]));
    await eventually(async () => expect(await rows()).toBe(3 * n), 20_000, 50);
    await disconnectAll(...clients);
    await eventually(async () => expect(await rows()).toBe(0), 20_000, 50);
    await sleep(CONNECT_DELAY_MS * 2); // the last user count publish and its COUNT are part of the cost

    const m1 = logger.total;
    if (process.env.PRESENCE_COST_LOG) console.log(logger.recorded.slice(m0, m1).join('\n'));
    const ownStatements = meter.sent - sentBefore; // includes the final SHOW below
    const q1 = await meter.questions();
    const cost: Cost = {
      sockets: n,
      events: n * EVENTS_PER_SOCKET,
      statements: m1 - m0,
      questions: q1 - q0 - (ownStatements - 1) - perRead,
    };
    console.log(
      `[sql-cost] ${cost.sockets} socket(s), ${cost.events} events: ${cost.statements} statements from the module; ` +
        `server-wide Questions delta ${cost.questions} (after subtracting ${ownStatements} of the measuring connection)`,
    );
    return cost;
  }

  it('one socket: connect, 2 subscriptions, disconnect', async () => {
    const cost = await measure(1);
    expect(cost.statements).toBeGreaterThan(0);
    expect(cost.questions).toBeGreaterThanOrEqual(cost.statements);
  }, 60_000);

  it(`a storm of ${STORM} sockets costs far less than one statement per event`, async () => {
    const cost = await measure(STORM);
    expect(cost.statements).toBeLessThan(0.2 * cost.events);
    expect(cost.questions).toBeGreaterThanOrEqual(cost.statements);
  }, 180_000);
});
