import { DataSource } from 'typeorm';

export const MYSQL_URL = process.env.PRESENCE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Polls `check` until it returns without throwing (an `expect` inside), or fails with its last error. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

/** Drops the module's tables named after `table` on a MySQL server (SQLite in memory goes with the connection). */
export async function dropTables(table: string, url = MYSQL_URL): Promise<void> {
  const ds = new DataSource({ type: 'mysql', url });
  await ds.initialize();
  try {
    await ds.query(`DROP TABLE IF EXISTS ${['', '_instances', '_status', '_members', '_channels', '_history'].map((suffix) => `\`${table}${suffix}\``).join(', ')}`);
  } finally {
    await ds.destroy();
  }
}
