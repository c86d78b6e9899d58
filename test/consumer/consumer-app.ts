import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = new URL('../..', import.meta.url).pathname;
const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

/** The packages of a fresh `nest new` app, at the versions this repository is tested with (a warm npm cache). */
const FRESH_APP = {
  dependencies: ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs'],
  devDependencies: ['typescript', '@types/node'],
};
/** The README's install line, besides the package and its driver. */
export const SERVER_PEERS = ['@nestjs/websockets', '@nestjs/schedule', '@nestjs/typeorm', 'typeorm', 'socketcluster-server'];

const pick = (names: string[]) => Object.fromEntries(names.map((name) => [name, own.devDependencies[name]]));

/** A throwaway app in `dir`: its npm commands and what they printed go to `transcript`. */
export class ConsumerApp {
  private process?: ChildProcess;
  output = '';

  constructor(
    readonly dir: string,
    readonly transcript: string,
  ) {}

  create(moduleType: 'module' | 'commonjs'): void {
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    cpSync(join(ROOT, 'test/consumer/app'), this.dir, { recursive: true });
    const manifest = {
      name: `presence-consumer-${moduleType}`,
      private: true,
      type: moduleType,
      dependencies: pick(FRESH_APP.dependencies),
      devDependencies: pick(FRESH_APP.devDependencies),
    };
    writeFileSync(join(this.dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(this.transcript, `# ${moduleType} app in ${this.dir}\n`);
  }

  /** Runs a command in the app, recording it and its output; rejects with that output when it fails. */
  async sh(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
    appendFileSync(this.transcript, `\n$ ${[command, ...args].join(' ')}\n`);
    try {
      const { stdout, stderr } = await run(command, args, { cwd: this.dir, timeout: timeoutMs, env: { ...process.env, ...env } });
      appendFileSync(this.transcript, stdout + stderr);
      return stdout + stderr;
    } catch (error) {
      const { stdout = '', stderr = '', killed, code } = error as { stdout?: string; stderr?: string; killed?: boolean; code?: unknown };
      appendFileSync(this.transcript, `${stdout}${stderr}\n(failed: ${(error as Error).message.split('\n')[0]})\n`);
      // The last lines: that is where npm and tsc say what went wrong.
      const tail = `${stdout}${stderr}`.trim().split('\n').slice(-40).join('\n');
      const reason = killed ? `timed out after ${timeoutMs} ms` : `exit code ${String(code)}`;
      throw new Error(`${command} ${args.join(' ')} failed in ${this.dir} (${reason}):\n${tail}`.slice(0, 8000));
    }
  }

  /** Starts `node dist/main.js` and resolves with the port it prints. */
  start(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<number> {
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: this.dir, env: { ...process.env, ...env } });
    this.process = child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the app printed no port within ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
      const read = (chunk: Buffer) => {
        this.output += chunk.toString();
        const port = /listening on (\d+)/.exec(this.output)?.[1];
        if (port) {
          clearTimeout(timer);
          resolve(Number(port));
        }
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the app exited with ${code}:\n${this.output}`));
      });
    });
  }

  lines(pattern: RegExp): string[] {
    return this.output.split('\n').filter((line) => pattern.test(line));
  }

  /** SIGTERM (the app enables shutdown hooks), SIGKILL if it does not end within 10 s. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const ended = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await ended;
    clearTimeout(timer);
  }
}
