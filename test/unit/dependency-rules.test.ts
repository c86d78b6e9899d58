/**
 * The import rules of .dependency-cruiser.cjs (no cycles between folders, the client entry free of server code,
 * SQL only in src/store/), checked on every test run, so that a change breaking them fails CI.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const config = join(root, '.dependency-cruiser.cjs');

async function run(cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [depcruise, 'src', '--config', config, '--output-type', 'err'], { cwd });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('import rules', () => {
  it('src/ keeps them', async () => {
    const result = await run(root);
    expect(result.output).toContain('no dependency violations found');
    expect(result.code).toBe(0);
  }, 60_000);

  it('a cycle between two folders breaks them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presence-deps-'));
    try {
      await mkdir(join(dir, 'src/a'), { recursive: true });
      await mkdir(join(dir, 'src/b'), { recursive: true });
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }));
      await writeFile(join(dir, 'src/a/one.ts'), "import { two } from '../b/two.js';\nexport const one = () => two;\n");
      await writeFile(join(dir, 'src/b/two.ts'), "import { three } from '../a/three.js';\nexport const two = three;\n");
      await writeFile(join(dir, 'src/a/three.ts'), 'export const three = 3;\n');
      const result = await run(dir);
      expect(result.output).toMatch(/no-folder-cycles: src\/(a|b)/);
      expect(result.code).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
