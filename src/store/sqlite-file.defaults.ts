/** The part of better-sqlite3's Database that the defaults use. */
interface SqliteHandle {
  pragma(source: string): unknown;
}

interface SqliteOptions {
  type: string;
  database?: unknown;
  enableWAL?: boolean;
  prepareDatabase?: (db: SqliteHandle) => unknown;
  /** A better-sqlite3 module of the app's own, a SQLCipher key, the addon: what a second connection needs too. */
  driver?: unknown;
  key?: unknown;
  nativeBinding?: unknown;
}

/** `:memory:`, `''` (a private temporary database) and `file::memory:` URIs have no journal worth choosing. */
function isFileDatabase(database: unknown): boolean {
  return typeof database === 'string' && database !== '' && database !== ':memory:' && !database.includes(':memory:');
}

/** Whether `withSqliteFileDefaults` changes these options. */
export function takesSqliteFileDefaults(options: SqliteOptions): boolean {
  return options.type === 'better-sqlite3' && isFileDatabase(options.database) && options.enableWAL === undefined;
}

/**
 * Whether a SQLite file under these defaults can have its checkpoints run by a thread of the module's (see
 * SqliteCheckpointThread): that thread opens the file itself, with the better-sqlite3 TypeORM loads, so not with
 * a driver module or an addon object the app passed, nor with a SQLCipher key.
 */
export function checkpointsInThread(options: SqliteOptions): { nativeBinding?: string } | undefined {
  if (!takesSqliteFileDefaults(options) || options.driver !== undefined || options.key !== undefined) return undefined;
  if (options.nativeBinding !== undefined && options.nativeBinding !== null && typeof options.nativeBinding !== 'string') return undefined;
  return { nativeBinding: (options.nativeBinding as string | null | undefined) ?? undefined };
}

/**
 * A SQLite file the app chose no journal mode for (`enableWAL` unset) runs in WAL with synchronous=NORMAL: each
 * commit is then one append to the log without an fsync, instead of a rollback journal written, synced and
 * deleted per transaction on the event loop, and readers in other processes on the host do not block the writer.
 * NORMAL in WAL loses at most the last commits on a power cut, never the file; presence rows are rebuilt by the
 * next flush and reconcile anyway. An app that sets `enableWAL` (either way) keeps its own choice, and its
 * `prepareDatabase` runs after ours, so a `synchronous` it sets there wins.
 */
export function withSqliteFileDefaults<T extends SqliteOptions>(options: T): T {
  if (!takesSqliteFileDefaults(options)) return options;
  const own = options.prepareDatabase;
  return {
    ...options,
    enableWAL: true,
    prepareDatabase: async (db: SqliteHandle) => {
      db.pragma('synchronous = NORMAL');
      await own?.(db);
    },
  };
}
