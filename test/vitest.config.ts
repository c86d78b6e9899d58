import { configDefaults, defineConfig } from 'vitest/config';

const source = (path: string) => new URL(`../src/${path}`, import.meta.url).pathname;

export default defineConfig({
  // The example app imports the package by its name (at run time Node resolves that to dist/ through the
  // exports map); the tests run it against the sources, the same module instances the tests import.
  resolve: {
    alias: [
      { find: /^nestjs-sc-presence$/, replacement: source('index.ts') },
      { find: /^nestjs-sc-presence\/client$/, replacement: source('client/index.ts') },
    ],
  },
  test: {
    root: new URL('..', import.meta.url).pathname,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration files share one MariaDB; each uses its own tables, so files may run side by side.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
    // The consumer test installs the packed package into throwaway apps: its own step (npm run test:consumer).
    // The cluster test starts several Nest processes at once and counts hooks across them within bounds: next
    // to the browser test's Chromium on two cores it was starved of CPU. It runs after every other file, alone.
    projects: [
      {
        extends: true,
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/cluster/**', 'test/consumer/**'], sequence: { groupOrder: 0 } },
      },
      // Its files one after another too: each starts processes of its own.
      { extends: true, test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
