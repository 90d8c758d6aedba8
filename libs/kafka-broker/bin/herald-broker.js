#!/usr/bin/env node
// Standalone broker: `herald-broker --port 9092 --data .data/kafka`. Compiles the TypeScript
// sources on the fly, as the rest of the workspace runs.
require('@swc-node/register');
require('../src/cli/broker.cli').main(process.argv.slice(2));
