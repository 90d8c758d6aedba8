// A Jest reporter that appends every failed test (name, file, first lines of the failure) to the
// file named by HERALD_TEST_FAILURES. `npm test` sets it and prints the file after the whole run,
// so a failure in an early project is still on screen (and in a CI log's tail) at the end.
// Without the variable it does nothing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const MAX_LINES_PER_FAILURE = 40;
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function excerpt(text) {
  // Jest's and Node's own stack frames say nothing about the failure.
  const lines = String(text)
    .replace(ANSI, '')
    .split('\n')
    .filter((line) => !/^\s+at .*(node_modules|node:internal)/.test(line));
  const kept = lines.slice(0, MAX_LINES_PER_FAILURE);
  if (lines.length > kept.length) kept.push(`… ${lines.length - kept.length} more lines`);
  return kept.map((line) => `    ${line}`).join('\n');
}

class FailureReporter {
  constructor() {
    this.file = process.env.HERALD_TEST_FAILURES;
  }

  onTestResult(test, result) {
    if (!this.file) return;
    const where = path.relative(ROOT, result.testFilePath);
    const entries = [];
    if (result.testExecError)
      entries.push(`✕ ${where}: the suite did not run\n${excerpt(result.testExecError.message)}`);
    for (const assertion of result.testResults)
      if (assertion.status === 'failed')
        entries.push(
          `✕ ${where} › ${assertion.fullName}\n${excerpt(assertion.failureMessages.join('\n'))}`,
        );
    if (entries.length > 0) fs.appendFileSync(this.file, `${entries.join('\n\n')}\n\n`);
  }
}

module.exports = FailureReporter;
