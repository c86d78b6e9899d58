import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_LINE_PREFIX } from './protocol.js';

/** The repository root: fixtures are started from there so that node_modules and tsx resolve. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface FixtureLine {
  kind: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process whose stdout lines starting with FIXTURE_LINE_PREFIX are parsed and kept, in order. */
export class ManagedProcess {
  readonly lines: FixtureLine[] = [];
  /** The last lines of plain output (stdout and stderr), for the message of a failing test. */
  readonly tail: string[] = [];
  readonly exited: Promise<Exit>;
  exit?: Exit;
  private readonly waiters: Array<{ match: (line: FixtureLine) => boolean; resolve: (line: FixtureLine) => void }> = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.read(child.stdout!, 'out');
    this.read(child.stderr!, 'err');
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first line (already seen or still to come) that `match` accepts. */
  waitFor(match: (line: FixtureLine) => boolean, timeoutMs = 20_000, what = 'a line'): Promise<FixtureLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.exit ? ` (exited ${JSON.stringify(this.exit)})` : ''}\n${this.tail.join('\n')}`));
      }, timeoutMs);
      this.waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      void this.exited.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${JSON.stringify(exit)}) before ${what}\n${this.tail.join('\n')}`));
      });
    });
  }

  /** kill -9 (or another signal) and wait for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }

  private read(stream: NodeJS.ReadableStream, source: 'out' | 'err'): void {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        this.line(buffer.slice(0, newline), source);
        buffer = buffer.slice(newline + 1);
      }
    });
  }

  private line(text: string, source: 'out' | 'err'): void {
    if (source === 'out' && text.startsWith(FIXTURE_LINE_PREFIX)) {
      const line = JSON.parse(text.slice(FIXTURE_LINE_PREFIX.length)) as FixtureLine;
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(line)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
      return;
    }
    if (process.env.PRESENCE_TEST_LOGS) process.stderr.write(`[${this.name}] ${text}\n`);
    this.tail.push(`[${this.name}:${source}] ${text}`);
    if (this.tail.length > 40) this.tail.shift();
  }
}

/** Every process started by the helpers below, so that afterAll can end the ones still running. */
const started = new Set<ManagedProcess>();

export function spawnNode(name: string, args: string[], env: Record<string, string> = {}): ManagedProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    // The fixtures exit when their stdin closes, so they do not outlive a test process that is killed.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const managed = new ManagedProcess(name, child);
  started.add(managed);
  void managed.exited.then(() => started.delete(managed));
  return managed;
}

/** A TypeScript fixture run the documented way: `node --import tsx <file>`. */
export function spawnTsFixture(name: string, file: string, env: Record<string, string> = {}): ManagedProcess {
  // test/tsconfig.json covers the test folders, so tsx compiles their decorators the way tsc does.
  return spawnNode(name, ['--import', 'tsx', file], { TSX_TSCONFIG_PATH: 'test/tsconfig.json', ...env });
}

process.once('exit', () => {
  for (const p of started) if (p.alive) p.child.kill('SIGKILL');
});

/** SIGKILLs every process the helpers started that is still running, and waits for them to exit. */
export async function killAllStarted(): Promise<void> {
  await Promise.all([...started].map((p) => p.kill('SIGKILL')));
}

/** A port that was free a moment ago (for a program that cannot listen on 0 and report its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The newest modification time of the files under `dir`, or 0 if it does not exist. */
function newest(dir: string): number {
  let latest = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return 0;
  }
  for (const entry of entries) latest = Math.max(latest, statSync(join(dir, entry)).mtimeMs);
  return latest;
}

/** The instance fixture runs the built package: refuse to test a dist/ that is missing or older than src/. */
export function assertBuilt(): void {
  const built = newest(join(ROOT, 'dist'));
  if (built === 0) throw new Error('the cluster tests run the built package: run `npm run build` first');
  if (newest(join(ROOT, 'src')) > built) throw new Error('dist/ is older than src/: run `npm run build` before the cluster tests');
}
