import { HeraldError } from '@herald/errors';

export interface ConfigIssue {
  variable: string;
  expected: string;
  problem: string;
  received: string | undefined;
}

/** The environment does not satisfy the composed schema; the message names every bad variable. */
export class ConfigError extends HeraldError {
  constructor(readonly issues: ConfigIssue[]) {
    super('config.invalid', formatIssues(issues));
  }
}

function formatIssues(issues: ConfigIssue[]): string {
  const lines = issues.map((issue) => {
    const got =
      issue.received === undefined ? 'it is not set' : `got ${JSON.stringify(issue.received)}`;
    return `  ${issue.variable}: expected ${issue.expected} (${issue.problem}; ${got})`;
  });
  return `Invalid configuration:\n${lines.join('\n')}`;
}
