/**
 * One jest run over unit tests (`libs/*\/test`, `services/*\/test`) and the cross-service tests
 * (`tests/`). TypeScript is transpiled by ts-jest without type information (`isolatedModules`);
 * `npm test` type-checks the same files first with `tsc -p tsconfig.test.json`.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/tests'],
  testMatch: ['**/test/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
  testTimeout: 30000,
  // Two cores: integration tests run real processes, one file per core.
  maxWorkers: 2,
  // Every test file gets a fresh worker process (a worker is recycled once it holds more than this
  // after a file, which is always): state that one file leaves in its process — native HTTP/2 and
  // TLS sessions of the APNs mock, timers, module singletons — cannot reach the next file. See
  // docs/status.md for the native abort this guards against.
  workerIdleMemoryLimit: '1MB',
};
