// Shared Jest settings: SWC transform (decorators with metadata), Node environment, per-project roots.
const path = require('node:path');

/** @param {string} dir project root @param {string} name display name */
module.exports = function jestProject(dir, name, extra = {}) {
  return {
    displayName: name,
    rootDir: dir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.int-spec.ts'],
    transform: {
      '^.+\\.(t|j)sx?$': [
        '@swc/jest',
        {
          jsc: {
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
            target: 'es2022',
          },
          module: { type: 'commonjs' },
        },
      ],
    },
    transformIgnorePatterns: ['/node_modules/(?!(eventsource|@platformatic)/)'],
    moduleFileExtensions: ['ts', 'js', 'json'],
    globalSetup: path.join(__dirname, 'tools/testing/global-setup.js'),
    globalTeardown: path.join(__dirname, 'tools/testing/global-teardown.js'),
    // The second one collects failures for `npm test` to repeat at the end of the whole run.
    reporters: ['default', path.join(__dirname, 'tools/testing/failure-reporter.js')],
    testTimeout: 30000,
    // Two test files at a time: integration tests mostly wait on the processes, brokers and
    // receivers they start (one file at a time kept a 2-core machine about 40 % busy), and
    // Jest's default on 2 cores is one. Each file has its own ports, Redis prefix and topics.
    maxWorkers: 2,
    // A test that fails half-way can leave a kafkajs client reconnecting; without this Jest
    // waits for it forever after the run (CI once hung 80 minutes that way).
    forceExit: true,
    ...extra,
  };
};
