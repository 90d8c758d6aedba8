import { z } from 'zod';

// Reusable schemas for environment values. Each carries a description that says what it expects;
// loadConfig puts that text in its error message.

export function port(defaultPort: number) {
  return z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(defaultPort)
    .describe(`a TCP port number 0-65535 (default ${defaultPort})`);
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function flag(defaultValue: boolean) {
  return z
    .string()
    .refine((v) => TRUE.has(v.toLowerCase()) || FALSE.has(v.toLowerCase()), 'not a boolean')
    .transform((v) => TRUE.has(v.toLowerCase()))
    .optional()
    .transform((v) => v ?? defaultValue)
    .describe(`true or false (default ${defaultValue})`);
}

/**
 * The largest value `positiveInt` and `nonNegativeInt` take unless told otherwise: 2^31 - 1, the
 * longest delay a Node.js timer takes (a longer one fires after 1 ms) and the largest value of a
 * Kafka int32 field.
 */
export const MAX_INT32 = 2_147_483_647;

export interface WholeNumberOptions {
  /**
   * The largest value taken. Default MAX_INT32; raise it only for a setting that never reaches a
   * timer or a 32-bit field (a duration compared with timestamps).
   */
  max?: number;
}

export function positiveInt(
  defaultValue: number,
  unit: string,
  { max = MAX_INT32 }: WholeNumberOptions = {},
) {
  return z.coerce
    .number()
    .int()
    .positive()
    .max(max, `more than ${max}`)
    .default(defaultValue)
    .describe(`a positive whole number of ${unit}, at most ${max} (default ${defaultValue})`);
}

export function nonNegativeInt(
  defaultValue: number,
  unit: string,
  { max = MAX_INT32 }: WholeNumberOptions = {},
) {
  return z.coerce
    .number()
    .int()
    .min(0)
    .max(max, `more than ${max}`)
    .default(defaultValue)
    .describe(`a whole number >= 0 of ${unit}, at most ${max} (default ${defaultValue})`);
}

export function url(protocols: string[], defaultValue?: string) {
  const schema = z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    `not a ${protocols.join('/')} URL`,
  );
  return (defaultValue === undefined ? schema : schema.default(defaultValue)).describe(
    `a ${protocols.join(' or ')} URL${defaultValue ? ` (default ${defaultValue})` : ''}`,
  );
}

export function hostPortList() {
  return z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine(
      (list) => list.length > 0 && list.every((hp) => /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(hp)),
      'not a host:port list',
    )
    .optional()
    .describe('a comma-separated list of host:port (for example kafka-1:9092,kafka-2:9092)');
}

/** One of `values`, in any letter case (`INFO` is `info`). */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  defaultValue: T[number],
) {
  const byLowerCase = new Map(values.map((value) => [value.toLowerCase(), value]));
  return z
    .preprocess(
      (v) => (typeof v === 'string' ? (byLowerCase.get(v.toLowerCase()) ?? v) : v),
      z.enum(values),
    )
    .default(defaultValue as never)
    .describe(`one of ${values.join(', ')} (default ${defaultValue})`);
}

export function secret(minLength: number) {
  return z
    .string()
    .min(minLength)
    .optional()
    .describe(`a secret of at least ${minLength} characters`);
}
