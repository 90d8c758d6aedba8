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

export function positiveInt(defaultValue: number, unit: string) {
  return z.coerce
    .number()
    .int()
    .positive()
    .default(defaultValue)
    .describe(`a positive whole number of ${unit} (default ${defaultValue})`);
}

export function nonNegativeInt(defaultValue: number, unit: string) {
  return z.coerce
    .number()
    .int()
    .min(0)
    .default(defaultValue)
    .describe(`a whole number >= 0 of ${unit} (default ${defaultValue})`);
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

export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  defaultValue: T[number],
) {
  return z
    .enum(values)
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
