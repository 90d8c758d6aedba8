import { HeraldError } from '@herald/errors';

/** Stable codes raised by @herald/contract. */
export const ContractErrorCode = {
  /** A document does not parse or breaks a contract rule; the process must not start. */
  invalidContract: 'contract.invalid',
  /** An event type the contract does not declare (ingest answers 404). */
  unknownType: 'contract.unknown_type',
  /** A glob over event types is malformed (API key scopes, subscription `types`). */
  invalidTypePattern: 'contract.invalid_type_pattern',
} as const;

/** One thing wrong with the contract, located as precisely as the parser allows. */
export interface ContractProblem {
  /** The file the problem is in, as found under the contract folder. */
  file: string;
  /** JSON pointer (RFC 6901) into that file; empty for the whole document. */
  path: string;
  /** 1-based line, when the parser reported a position. */
  line?: number;
  message: string;
}

/** The contract cannot be used; `problems` lists every diagnostic, not just the first. */
export class ContractError extends HeraldError {
  constructor(
    readonly problems: ContractProblem[],
    summary = 'Invalid contract',
  ) {
    super(
      ContractErrorCode.invalidContract,
      `${summary}:\n${problems.map(formatContractProblem).join('\n')}`,
    );
  }
}

export class UnknownEventTypeError extends HeraldError {
  constructor(readonly type: string) {
    super(
      ContractErrorCode.unknownType,
      `Event type ${JSON.stringify(type)} is not in the contract`,
    );
  }
}

export class InvalidTypePatternError extends HeraldError {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(
      ContractErrorCode.invalidTypePattern,
      `Invalid event type pattern ${JSON.stringify(pattern)}: ${reason}`,
    );
  }
}

export function formatContractProblem(problem: ContractProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
  return problem.path === ''
    ? `  ${where}: ${problem.message}`
    : `  ${where} ${problem.path}: ${problem.message}`;
}
