import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { escapeJsonPointerSegment } from './json-pointer';

/** A payload field that breaks its schema: `pointer` (RFC 6901) names the field itself. */
export interface SchemaViolation {
  pointer: string;
  message: string;
}

/**
 * `errors` lists at most `MAX_LISTED_VIOLATIONS`; when there were more, `errorCount` says how
 * many (it is absent when the list is complete). A payload of more than
 * `MAX_VALUES_FULLY_CHECKED` values is checked only up to its first violation: `errorCount` then
 * counts what was found and `errorCountIsLowerBound` says there may be more.
 */
export type ValidationResult =
  | { ok: true }
  | {
      ok: false;
      errors: SchemaViolation[];
      errorCount?: number;
      errorCountIsLowerBound?: true;
    };

export type PayloadValidator = (payload: unknown) => ValidationResult;

export type JsonSchema = Record<string, unknown>;

const VALID: ValidationResult = Object.freeze({ ok: true });

// Keywords whose value is a map from names to schemas: the names are data (a property may well
// be called `x-total`), the values are schemas to clean.
const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  'definitions',
  '$defs',
  'dependentSchemas',
  'dependencies',
]);
// Keywords whose value is instance data, copied as is.
const DATA_KEYWORDS = new Set(['examples', 'default', 'const', 'enum']);
const MAX_ENUM_VALUES_IN_MESSAGE = 20;
/**
 * The most violations one result lists. A payload within the size limit can break its schema a
 * hundred thousand times (every item of a long array missing its fields): the rest are counted.
 */
export const MAX_LISTED_VIOLATIONS = 100;
/**
 * The most JSON values (objects, arrays and every string, number, boolean and null in them) a
 * payload may hold to have all its violations collected. Each value can break its schema, often
 * more than once, and ajv allocates every violation before any can be dropped: a 240 KB array of
 * `{}` broke the order schema 245,000 times, which took 450 ms and 80 MB. A larger payload that
 * breaks its schema is reported by what ajv finds up to its first violation, the count marked as
 * a lower bound. 2,000 values hold the largest orders of our contract (200 items).
 */
export const MAX_VALUES_FULLY_CHECKED = 2_000;

/** A schema refers back to itself; the registry cannot compile it (see the loader's rule). */
export class RecursiveSchemaError extends Error {}

/**
 * Copies a JSON Schema without the keywords `drop` selects, leaving property names and instance
 * data alone. AsyncAPI documents carry specification extensions (`x-…`) and the parser adds its
 * own (`x-parser-schema-id`); ajv's strict mode rightly refuses unknown keywords, so they go.
 */
export function cleanSchema(schema: unknown, drop: (keyword: string) => boolean): unknown {
  const ancestors = new Set<object>();
  const visit = (node: unknown, isMap: boolean): unknown => {
    if (node === null || typeof node !== 'object') return node;
    if (ancestors.has(node)) throw new RecursiveSchemaError('the schema refers to itself');
    ancestors.add(node);
    let copy: unknown;
    if (Array.isArray(node)) {
      copy = node.map((item) => visit(item, false));
    } else {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        if (isMap) out[key] = visit(value, false);
        else if (drop(key)) continue;
        else if (DATA_KEYWORDS.has(key)) out[key] = structuredClone(value);
        else
          out[key] = visit(
            value,
            SCHEMA_MAPS.has(key) &&
              value !== null &&
              typeof value === 'object' &&
              !Array.isArray(value),
          );
      }
      copy = out;
    }
    ancestors.delete(node);
    return copy;
  };
  return visit(schema, false);
}

export const isExtensionKeyword = (keyword: string): boolean => keyword.startsWith('x-');
export const isParserKeyword = (keyword: string): boolean => keyword.startsWith('x-parser-');

/**
 * Two ajv instances per contract, one stopping at the first violation and one collecting every
 * violation: draft-07 (AsyncAPI's schema dialect), strict so that a typo such as `requried` or a
 * `required` name missing from `properties` stops the load instead of silently accepting
 * everything, and own properties only: a payload is JSON, and `{}` must not hold a required
 * `constructor` or `toString` it inherits from Object.
 */
export class PayloadValidatorCompiler {
  private readonly firstError = createAjv(false);
  private readonly everyError = createAjv(true);

  /** Compiles a cleaned schema (see cleanSchema); throws ajv's error for an invalid one. */
  compile(schema: JsonSchema): PayloadValidator {
    const untilFirst: ValidateFunction = this.firstError.compile(schema);
    const throughout: ValidateFunction = this.everyError.compile(schema);
    // A valid payload, the common case, is checked once and as cheaply as ajv can. An invalid
    // one is checked again for all its violations only when it is small enough (see
    // MAX_VALUES_FULLY_CHECKED): what that costs grows with the payload.
    return (payload) => {
      if (untilFirst(payload)) return VALID;
      if (!holdsAtMost(payload, MAX_VALUES_FULLY_CHECKED))
        return toInvalid(untilFirst.errors ?? [], true);
      throughout(payload);
      return toInvalid(throughout.errors ?? untilFirst.errors ?? [], false);
    };
  }
}

function createAjv(allErrors: boolean): Ajv {
  const ajv = new Ajv({
    allErrors,
    strict: true,
    allowUnionTypes: true,
    ownProperties: true,
    // Schemas with an `$id` would otherwise be registered globally and clash across documents.
    addUsedSchema: false,
  });
  addFormats(ajv);
  // AsyncAPI Schema Object keywords that carry documentation only.
  ajv.addKeyword({ keyword: 'externalDocs' });
  ajv.addKeyword({ keyword: 'discriminator' });
  return ajv;
}

/**
 * Whether `payload` holds at most `max` JSON values, itself included. Stops counting past `max`,
 * so it visits at most that many whatever the payload's size (the engine still lists a large
 * object's keys whole, as it does for ajv).
 */
export function holdsAtMost(payload: unknown, max: number): boolean {
  let count = 1;
  const pending: unknown[] = [payload];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      count += value.length;
      if (count > max) return false;
      for (const item of value) pending.push(item);
    } else {
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        if (++count > max) return false;
        pending.push((value as Record<string, unknown>)[key]);
      }
    }
  }
  return count <= max;
}

/**
 * The first `MAX_LISTED_VIOLATIONS` distinct violations, and how many distinct ones there were;
 * `partial` when `errors` may not hold them all (the count is then a lower bound).
 */
function toInvalid(errors: ErrorObject[], partial: boolean): ValidationResult {
  const seen = new Set<string>();
  const violations: SchemaViolation[] = [];
  for (const error of errors) {
    const violation = toViolation(error);
    const id = `${violation.pointer}\u0000${violation.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    if (violations.length < MAX_LISTED_VIOLATIONS) violations.push(violation);
  }
  if (partial)
    return { ok: false, errors: violations, errorCount: seen.size, errorCountIsLowerBound: true };
  return seen.size > violations.length
    ? { ok: false, errors: violations, errorCount: seen.size }
    : { ok: false, errors: violations };
}

function toViolation(error: ErrorObject): SchemaViolation {
  const params = error.params as Record<string, unknown>;
  const at = (child: unknown) => `${error.instancePath}/${escapeJsonPointerSegment(String(child))}`;
  switch (error.keyword) {
    case 'required':
      return { pointer: at(params.missingProperty), message: 'is required' };
    case 'dependencies':
    case 'dependentRequired':
      return {
        pointer: at(params.missingProperty),
        message: `is required when ${JSON.stringify(params.property)} is present`,
      };
    case 'additionalProperties':
      return { pointer: at(params.additionalProperty), message: 'is not allowed here' };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]) ?? [];
      const shown = allowed.slice(0, MAX_ENUM_VALUES_IN_MESSAGE).map((v) => JSON.stringify(v));
      if (allowed.length > shown.length) shown.push('…');
      return { pointer: error.instancePath, message: `must be one of ${shown.join(', ')}` };
    }
    case 'format':
      return { pointer: error.instancePath, message: `must be a valid ${String(params.format)}` };
    case 'const':
      return {
        pointer: error.instancePath,
        message: `must be ${JSON.stringify(params.allowedValue)}`,
      };
    default:
      return { pointer: error.instancePath, message: error.message ?? `fails "${error.keyword}"` };
  }
}
