import { toSqlTime } from './sql.dialect.js';
import type { SqlContext, SqlNumber, Tx } from './sql.helpers.js';

export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: Date;
}

const INSTANCE_COLUMNS = ['SCP_instance_id', 'SCP_host', 'SCP_pid', 'SCP_started', 'SCP_heartbeat'] as const;

/** One row per running instance, its lease renewed every heartbeat. */
export class InstancesTable {
  constructor(private readonly sql: SqlContext) {}

  private get table(): string {
    return this.sql.t('instances');
  }

  renew(tx: Tx, instance: InstanceInfo, now: Date): Promise<number> {
    return tx.exec(this.sql.dialect.upsert(this.sql.tables.instances, INSTANCE_COLUMNS, 1, ['SCP_instance_id'], ['SCP_heartbeat']), [
      instance.id, instance.host, instance.pid, toSqlTime(instance.startedAt), toSqlTime(now),
    ]);
  }

  /** How many other instances renewed their lease since `cutoff`. */
  async othersAlive(tx: Tx, instanceId: string, cutoff: Date): Promise<number> {
    const [row] = await tx.rows<{ n: SqlNumber }>(
      `SELECT COUNT(*) AS n FROM ${this.table} WHERE SCP_heartbeat >= ? AND SCP_instance_id <> ?`,
      [toSqlTime(cutoff), instanceId],
    );
    return Number(row.n);
  }

  /** The GC leader (the oldest instance whose lease is current) and the instances whose lease expired. */
  async leases(tx: Tx, cutoff: Date): Promise<{ leader?: string; dead: string[] }> {
    const rows = await tx.rows<{ SCP_instance_id: string; live: SqlNumber | boolean }>(
      `SELECT SCP_instance_id, CASE WHEN SCP_heartbeat >= ? THEN 1 ELSE 0 END AS live FROM ${this.table}
       ORDER BY SCP_started, SCP_instance_id`,
      [toSqlTime(cutoff)],
    );
    return {
      leader: rows.find((r) => Number(r.live) === 1)?.SCP_instance_id,
      dead: rows.filter((r) => Number(r.live) !== 1).map((r) => r.SCP_instance_id),
    };
  }

  /** Deletes a lease, only if it expired before `cutoff` when given; returns whether it was there. */
  async remove(tx: Tx, instanceId: string, cutoff?: Date): Promise<boolean> {
    const gone = cutoff
      ? await tx.exec(`DELETE FROM ${this.table} WHERE SCP_instance_id = ? AND SCP_heartbeat < ?`, [instanceId, toSqlTime(cutoff)])
      : await tx.exec(`DELETE FROM ${this.table} WHERE SCP_instance_id = ?`, [instanceId]);
    return gone > 0;
  }

  deleteAll(tx: Tx): Promise<number> {
    return tx.exec(`DELETE FROM ${this.table}`, []);
  }
}
