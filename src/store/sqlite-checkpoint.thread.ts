import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/** The part of better-sqlite3's Database the thread uses on the event loop's side. */
export interface SqliteConnection {
  readonly name: string;
  readonly memory: boolean;
  pragma(source: string, options?: { simple?: boolean }): unknown;
}

/** How often the thread copies the log into the database file. */
export const CHECKPOINT_INTERVAL_MS = 250;
/**
 * The event loop's own automatic checkpoint, while the thread runs: a safety net (a log this long means the
 * thread is stuck or gone), far above what the thread lets the log reach between two of its passes.
 */
export const SAFETY_CHECKPOINT_PAGES = 10_000;
/** SQLite's default, restored on the event loop's connection when the thread fails or stops. */
const DEFAULT_CHECKPOINT_PAGES = 1000;

/**
 * The thread's own script, CommonJS evaluated in the worker (a file next to this one would be TypeScript in the
 * sources). It opens a connection of its own to the same file and runs a PASSIVE checkpoint every interval: that
 * never waits for the writer, and a writer never waits for it, as WAL lets a checkpoint run beside a write.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true, timeout: 0, nativeBinding: workerData.nativeBinding });
parentPort.postMessage({ ready: true });
const timer = setInterval(() => {
  // A failed pass (the event loop's connection checkpointing at the same moment) is retried by the next one.
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** Where the better-sqlite3 that TypeORM loads lives (TypeORM requires it from its own package). */
function driverPath(): string {
  const own = createRequire(import.meta.url);
  return createRequire(own.resolve('typeorm')).resolve('better-sqlite3');
}

/**
 * Moves a SQLite file's WAL checkpoints off the event loop. SQLite checkpoints on the committing connection once
 * the log passes 1000 pages: with better-sqlite3 that is the event loop, which then copies the log into the file
 * and syncs it. In a 2,000-socket storm that was a third of the time spent in SQLite's writes, and each sync held
 * every socket's traffic. Here a worker thread checkpoints every CHECKPOINT_INTERVAL_MS, and the event loop's own
 * automatic checkpoint stays only as a safety net; if the thread cannot run, SQLite's default is left as it was.
 */
export class SqliteCheckpointThread {
  private worker?: Worker;
  private stopped = false;

  /**
   * @param connection The event loop's connection (TypeORM's `driver.databaseConnection`).
   * @param onFailure Hears why the thread could not start or stopped early; the default checkpoints are back.
   */
  constructor(
    private readonly connection: SqliteConnection,
    private readonly onFailure: (reason: string) => void,
    private readonly options: { intervalMs?: number; driver?: string; nativeBinding?: string } = {},
  ) {}

  start(): void {
    if (this.worker || this.connection.memory) return;
    let driver: string;
    try {
      driver = this.options.driver ?? driverPath();
    } catch (error) {
      this.onFailure(`better-sqlite3 was not found from typeorm (${(error as Error).message})`);
      return;
    }
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { driver, file: resolve(this.connection.name), intervalMs: this.options.intervalMs ?? CHECKPOINT_INTERVAL_MS, nativeBinding: this.options.nativeBinding },
    });
    // Never what keeps the process alive.
    worker.unref();
    this.worker = worker;
    worker.once('message', () => {
      if (!this.stopped) this.connection.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
    });
    worker.once('error', (error) => this.failed(error.message));
    worker.once('exit', (code) => {
      if (!this.stopped) this.failed(`the checkpoint thread exited with code ${code}`);
    });
  }

  /** Ends the thread after its connection closed, and gives the event loop's connection SQLite's default back. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.stopped) return;
    this.stopped = true;
    this.restoreDefault();
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((done) => (timer = setTimeout(done, 1000)))]).finally(() => clearTimeout(timer));
    await worker.terminate();
  }

  private failed(reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.restoreDefault();
    this.onFailure(reason);
  }

  private restoreDefault(): void {
    try {
      this.connection.pragma(`wal_autocheckpoint = ${DEFAULT_CHECKPOINT_PAGES}`);
    } catch {
      // The connection is closed already: nothing is left to checkpoint on it.
    }
  }
}
