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
};
