import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // The consumer test installs the packed package into throwaway apps: its own step (npm run test:consumer).
    exclude: [...configDefaults.exclude, 'test/consumer/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration files share one MariaDB; each uses its own tables, so files may run side by side.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'],
  },
});
