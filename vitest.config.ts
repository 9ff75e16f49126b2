import { defineConfig } from 'vitest/config';

// Two projects: fast unit/integration tests that need nothing but Node, and end-to-end tests that
// run against a real kube-apiserver built and started by test/cluster (see README).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/e2e/global-setup.ts'],
          // One control plane is shared by every e2e file; files run one after another against it.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60 * 60_000,
        },
      },
    ],
  },
});
