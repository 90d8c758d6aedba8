/** The broker's only way of saying anything: one JSON object per line. */
export interface BrokerLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

type Level = 'info' | 'warn' | 'error';

function toJson(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** Writes JSON lines to `write` (stderr by default). */
export function createJsonLogger(
  write: (line: string) => void = (line) => process.stderr.write(line),
  base: Record<string, unknown> = { name: 'kafka-broker' },
): BrokerLogger {
  const log = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    const record: Record<string, unknown> = { level, time: new Date().toISOString(), ...base, msg };
    if (fields) for (const [key, value] of Object.entries(fields)) record[key] = toJson(value);
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}

/** Discards everything; the test kit's default so test output stays clean. */
export const silentLogger: BrokerLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
