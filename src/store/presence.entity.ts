import { EntitySchema } from 'typeorm';

/** A row of the sc-presence table, for apps that want to read it through a TypeORM repository. */
export interface PresenceRecord {
  id: string;
  socketId: string;
  userId: string | null;
  channel: string;
  updated: Date;
  authToken: string | null;
  ip: string | null;
  origin: string | null;
  instanceId: string;
  status: 'online' | 'idle';
  connected: Date;
  /** The session state's JSON, on the presence row only; null for none. */
  state: string | null;
}

/**
 * The sc-presence table as a TypeORM entity. The table is created by the module's migration, never by
 * `synchronize`; writes go through the module, so treat the repository as read-only.
 */
export function createPresenceEntity(tableName = 'SCPresence_users'): EntitySchema<PresenceRecord> {
  return new EntitySchema<PresenceRecord>({
    name: `PresenceRecord_${tableName}`,
    tableName,
    synchronize: false,
    columns: {
      id: { name: 'SCP_id', type: 'bigint', primary: true, generated: 'increment' },
      socketId: { name: 'SCP_socket_id', type: 'varchar', length: 255, nullable: true },
      userId: { name: 'SCP_user_id', type: 'varchar', length: 255, nullable: true },
      channel: { name: 'SCP_channel', type: 'varchar', length: 255, nullable: true },
      updated: { name: 'SCP_updated', type: 'datetime', nullable: true },
      authToken: { name: 'SCP_authToken', type: 'text', nullable: true },
      ip: { name: 'SCP_ip', type: 'varchar', length: 255, nullable: true },
      origin: { name: 'SCP_origin', type: 'varchar', length: 1024, nullable: true },
      instanceId: { name: 'SCP_instance_id', type: 'varchar', length: 64 },
      status: { name: 'SCP_status', type: 'varchar', length: 8 },
      connected: { name: 'SCP_connected', type: 'datetime', nullable: true },
      state: { name: 'SCP_state', type: 'text', nullable: true },
    },
  });
}
