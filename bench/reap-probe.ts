/**
 * Reaping a dead instance inside a large table on MariaDB, filled as the store bench fills it (through
 * `PresenceStore.write`, 500 joins a flush, four instances at a time), so that the index statistics are as
 * fresh or as stale as they are there. Prints the plan of a delete by socket id with 100 to 500 ids, the reap's
 * statements and time, and the plan of each statement it sent.
 *
 *   PRESENCE_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test node --import tsx bench/reap-probe.ts [--rows N] [--trace FILE]
 */
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { StatementLog, dropTables, explain, openStore } from './store-probe.js';
import { CHANNELS_PER_SESSION, SimInstance } from './store-workload.js';

const { values: argv } = parseArgs({ options: { rows: { type: 'string' }, trace: { type: 'string' } }, strict: true });
const totalRows = Number(argv.rows ?? 1_000_000);
const url = process.env.PRESENCE_BENCH_MYSQL_URL ?? process.env.PRESENCE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const table = `scpreap_${randomBytes(4).toString('hex')}`;
const minute = 60_000;
const perSession = 1 + CHANNELS_PER_SESSION;
const log = new StatementLog();
const store = await openStore('mariadb', table, url, '', log);
const q = (sql: string, params: unknown[] = []) => store.connection.query(sql, params) as Promise<Array<Record<string, unknown>>>;

async function register(id: string, at = new Date()): Promise<SimInstance> {
  await store.register({ id, host: 'bench', pid: process.pid, startedAt: at }, new Date(at.getTime() - minute), new Date(at.getTime() - minute), at);
  return new SimInstance(id, store);
}

async function fill(instances: SimInstance[], count: number): Promise<void> {
  const queue = [...instances];
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let sim = queue.shift(); sim; sim = queue.shift()) {
      for (let done = 0; done < count; done += 500) {
        for (let i = 0; i < Math.min(500, count - done); i++) sim.join();
        await sim.drain();
      }
    }
  }));
}

const plan = (rows: Array<Record<string, unknown>>) => rows.map((r) => `type=${r.type} key=${r.key ?? 'NULL'} rows=${r.rows}`).join('; ');

try {
  // As the store bench: one instance's 100k rows, then 49 others (one of them dead) up to the full table.
  const ownSessions = Math.ceil(100_000 / perSession);
  await fill([await register('own')], ownSessions);
  const others = [await register('dead', new Date(Date.now() - 10 * minute))];
  for (let i = 0; i < 48; i++) others.push(await register(`other-${i}`));
  await fill(others, Math.ceil((totalRows / perSession - ownSessions) / others.length));
  const [{ n }] = await q(`SELECT COUNT(*) AS n FROM \`${table}\``);
  console.log(`${n} rows; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const ids = [...others[0].sessions.keys()];
  // 100 ids a statement as the store sends them now, 500 as it did; the server's dive limit is 200.
  for (const size of [100, 199, 200, 500]) {
    const part = ids.slice(0, size);
    const sql = `DELETE FROM \`${table}\` WHERE SCP_socket_id IN (${part.map(() => '?').join(', ')})`;
    console.log(`EXPLAIN delete of ${size} sockets: ${plan(await q(`EXPLAIN ${sql}`, part))}`);
    if (argv.trace && size === 500) {
      const runner = store.connection.createQueryRunner();
      try {
        await runner.query(`SET optimizer_trace = 'enabled=on'`);
        await runner.query(`EXPLAIN ${sql}`, part);
        const [{ TRACE }] = (await runner.query('SELECT TRACE FROM information_schema.OPTIMIZER_TRACE')) as Array<{ TRACE: string }>;
        writeFileSync(argv.trace, TRACE);
      } finally {
        await runner.release();
      }
    }
  }

  const reap = await log.measure(() => store.reapInstance('dead', new Date(Date.now() - minute), new Date()));
  console.log(`reap of ${(ids.length * perSession).toLocaleString('en')} rows: ${reap.result?.sockets.length} sockets, ${reap.statements.length} statements, ` +
    `${reap.ms.toFixed(0)} ms, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const kinds = new Map<string, number>();
  for (const { sql } of reap.statements) {
    const kind = sql.replace(/\s+/g, ' ').slice(0, 70);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  for (const [kind, count] of kinds) console.log(`  ${count} × ${kind}`);
  for (const { sql, plan: p } of await explain(store, reap.statements)) console.log(`EXPLAIN ${sql.slice(0, 70)}\n    ${p}`);
} finally {
  await dropTables(store, table);
  await store.close();
}
