import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** What `npm pack` would publish (from dist/: run `npm run build` first), and the manifest that points into it. */
const ROOT = new URL('../..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
const packed = (): string[] => {
  const [result] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  return (result.files as Array<{ path: string }>).map((f) => f.path);
};

describe.runIf(existsSync(`${ROOT}dist/index.js`))('the published package', () => {
  const files = packed();

  it('ships the library, its bin, LICENSE, README and its pictures, and no demo, test or bench files', () => {
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/client/index.js']));
    expect(files.filter((f) => /(^|\/)(demo|test|tests|bench|examples)\/|(^|\/)(main|app\.module)\.|\.test\.|\.map$|\.sqlite$/.test(f))).toEqual([]);
    // docs/ ships only the pictures the README shows.
    const extra = files.filter((f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(f));
    expect(extra.sort()).toEqual(['docs/demo.png', 'docs/scale-hooks.svg', 'docs/scale-per-socket.svg', 'docs/store-ramp.svg', 'docs/store-results.svg']);
  });

  it('has every target of exports and bin, with a condition that require() and import both take', () => {
    for (const [entry, target] of Object.entries<Record<string, string> | string>(manifest.exports)) {
      if (typeof target === 'string') {
        expect(files, entry).toContain(target.replace(/^\.\//, ''));
        continue;
      }
      // "default" serves import and require(esm) alike (Node >= 20.19); "types" comes first for TypeScript.
      expect(Object.keys(target), entry).toEqual(['types', 'default']);
      for (const path of Object.values(target)) expect(files, entry).toContain(path.replace(/^\.\//, ''));
    }
    for (const bin of Object.values<string>(manifest.bin)) expect(files).toContain(bin.replace(/^\.\//, ''));
    expect(readFileSync(`${ROOT}${manifest.bin['nestjs-sc-presence']}`, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('shows README images from absolute URLs of shipped files, so they work on the registry page', () => {
    const images = [...readFileSync(`${ROOT}README.md`, 'utf8').matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    expect(images.length).toBeGreaterThan(0);
    for (const url of images) {
      const shipped = /^https:\/\/cdn\.jsdelivr\.net\/npm\/nestjs-sc-presence\/(.+)$/.exec(url)?.[1];
      expect(shipped, url).toBeDefined();
      expect(files).toContain(shipped);
    }
  });

  it('installs nothing of the server for a browser app: every peer is optional, the only dependencies are types and a stream', () => {
    // writable-consumable-stream (which socketcluster-server uses too) carries the app's middleware next to ours.
    const allowed = (name: string) => name.startsWith('@types/') || name === 'writable-consumable-stream';
    expect(Object.keys(manifest.dependencies ?? {}).filter((name) => !allowed(name))).toEqual([]);
    for (const name of Object.keys(manifest.peerDependencies)) expect(manifest.peerDependenciesMeta?.[name], name).toEqual({ optional: true });
  });
});
