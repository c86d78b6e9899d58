import { defineConfig } from 'vitest/config';

// The consumer test: its own step in CI (it packs the package and installs it into throwaway apps).
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/consumer/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.vitest-consumer.json' }]] : ['default'],
  },
});
