/** The module's tables, all named after the sc-presence table so that several deployments can share a schema. */
export function presenceTableNames(tableName: string) {
  return {
    /** The sc-presence table: one row per (socket, channel) plus one per socket on the presence channel. */
    sockets: tableName,
    /** One row per running instance, its lease renewed every heartbeat. */
    instances: `${tableName}_instances`,
    /** One row per user who has been seen: the status hooks fire from changes of this row. */
    status: `${tableName}_status`,
    /** Channel presence: members of each channel as last published, aggregated per user. */
    members: `${tableName}_members`,
    /** Channel presence: the sequence number of each channel's last diff. */
    channels: `${tableName}_channels`,
    /** With `history`: one row per ended session. */
    history: `${tableName}_history`,
  };
}

export type PresenceTableNames = ReturnType<typeof presenceTableNames>;
