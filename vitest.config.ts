import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running; `integration` gets one real Temporal dev server per run
// (test/setup/temporal.ts) and builds its own lab hosts per file.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
          // Unit tests first, all cores; then integration with its own worker limit (vitest needs distinct groups).
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/{ssh,lab,activities,workflows,e2e,scale}/**/*.test.ts'],
          globalSetup: ['test/setup/temporal.ts'],
          setupFiles: ['test/setup/logging.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          pool: 'forks',
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
