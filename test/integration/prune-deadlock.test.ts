/**
 * A prune is one DELETE outside a transaction, and another instance's transaction can still deadlock with it:
 * InnoDB then rolls back the lighter of the two, the DELETE. It is retried at once, as a transaction would be,
 * instead of failing the GC run (and logging an error) until the next one.
 */
import { describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { BACKENDS, MYSQL_URL, presenceTestBed, sleep } from '../support/presence-app.js';
import { SqlStatementCounter } from '../support/sql-counter.js';
import { PresenceStore } from '../../src/store/presence.store.js';

const OLD = '2020-01-01 00:00:00.000';
const OLDER = '2019-01-01 00:00:00.000';
/** Rows the other transaction changes first, so that InnoDB finds it the heavier one and rolls back the DELETE. */
const FILLERS = 50;

describe.runIf(BACKENDS.includes('mariadb'))('pruning status rows during another transaction (mariadb)', () => {
  const bed = presenceTestBed('mariadb');

  it('retries a DELETE that InnoDB chose as a deadlock victim, and prunes the rows', async () => {
    const failed: string[] = [];
    const log = new SqlStatementCounter({ onError: (line) => failed.push(line) });
    const ctx = await bed.start({
      database: { type: 'mysql', url: MYSQL_URL, logger: log } as never,
      usercount: false,
      gc: { enabled: false },
    });
    const status = `\`${ctx.table}_status\``;
    const fillers = Array.from({ length: FILLERS }, (_, i) => `('z${i}', 'online', ?, ?)`).join(', ');
    await ctx.sql(`INSERT INTO ${status} (SCP_user_id, SCP_status, SCP_changed, SCP_last_seen) VALUES ('a', 'offline', ?, ?), ('b', 'offline', ?, ?), ${fillers}`, [
      OLDER, OLDER, OLD, OLD, ...Array.from({ length: FILLERS }, () => [OLD, OLD]).flat(),
    ]);

    const other = new DataSource({ type: 'mysql', url: MYSQL_URL });
    await other.initialize();
    const tx = other.createQueryRunner();
    try {
      await tx.startTransaction('READ COMMITTED');
      await tx.query(`UPDATE ${status} SET SCP_changed = NOW(3) WHERE SCP_user_id LIKE 'z%'`);
      await tx.query(`UPDATE ${status} SET SCP_changed = SCP_changed WHERE SCP_user_id = 'b'`);
      // The DELETE takes 'a' (the oldest) and waits for 'b'; the other transaction then asks for 'a'.
      const pruned = ctx.app.get(PresenceStore).prune(new Date('2021-01-01T00:00:00Z'), 500);
      await sleep(300);
      await tx.query(`UPDATE ${status} SET SCP_changed = SCP_changed WHERE SCP_user_id = 'a'`);
      await tx.commitTransaction();

      expect(await pruned).toEqual({ statuses: 2, channels: 0 });
      expect(failed.filter((line) => /Deadlock/.test(line))).toHaveLength(1);
      const left = await ctx.sql<{ id: string }>(`SELECT SCP_user_id AS id FROM ${status} WHERE SCP_user_id IN ('a', 'b')`);
      expect(left).toEqual([]);
    } finally {
      await tx.release();
      await other.destroy();
    }
  });
});
