export {
  loadContract,
  contractLoadReport,
  reportContractLoad,
  exitOnStartFailure,
  DEFAULT_PARTITIONS,
  type ContractLoadReport,
  type LoadContractOptions,
} from './contract.loader';
export {
  ContractRegistry,
  type ContractDocument,
  type ContractTopic,
  type EventType,
  type JsonTextAt,
} from './contract.registry';
export {
  ContractError,
  ContractErrorCode,
  InvalidTypePatternError,
  UnknownEventTypeError,
  type ContractProblem,
} from './contract.errors';
export {
  MAX_VALUES_FULLY_CHECKED,
  type JsonSchema,
  type SchemaViolation,
  type ValidationResult,
} from './payload.validator';
export {
  compileTypePattern,
  isValidEventType,
  validateTypePattern,
  type TypePredicate,
} from './type-pattern';
export { parseJsonPointer, resolveJsonPointer } from './json-pointer';
export { contractConfig, type ContractConfig } from './contract.config';
export {
  compileEventFilter,
  FILTER_OPERATORS,
  FILTER_LIMITS,
  type EventFilter,
  type EventFilterResult,
} from './event-filter';
