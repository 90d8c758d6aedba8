import { logLevel } from 'kafkajs';
import pino from 'pino';
import { KafkaConnection, kafkaLogCreator } from './kafka.connection';
import { HELD_BACK_MESSAGE } from './kafka.publisher';
import { testKafkaConfig } from './testing';

describe('KafkaConnection', () => {
  it('fails its readiness probe quickly when no broker answers', async () => {
    const connection = new KafkaConnection(
      testKafkaConfig('127.0.0.1:1'),
      'test',
      pino({ level: 'silent' }),
    );
    const started = Date.now();
    await expect(connection.ping()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    await connection.close();
  });
});

describe('kafkaLogCreator', () => {
  /** The pino level and message of what kafkajs logs at `level`. */
  function written(level: logLevel, message: string): { level: number; msg: string }[] {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
    );
    const log = kafkaLogCreator(logger)();
    log({
      namespace: 'Producer',
      level,
      label: 'ERROR',
      log: { timestamp: '2026-01-01T00:00:00.000Z', message, retryCount: 0, retryTime: 100 },
    });
    return lines.map(({ level, msg }) => ({ level, msg }));
  }

  it('writes the write the publisher holds back at debug, not as an error', () => {
    expect(written(logLevel.ERROR, HELD_BACK_MESSAGE)).toEqual([
      { level: 20, msg: HELD_BACK_MESSAGE },
    ]);
  });

  it("keeps kafkajs's other errors and warnings at their level", () => {
    const refused =
      'The request included a message larger than the max message size the server will accept';
    expect(written(logLevel.ERROR, refused)).toEqual([{ level: 50, msg: refused }]);
    expect(written(logLevel.WARN, 'Connection timeout')).toEqual([
      { level: 40, msg: 'Connection timeout' },
    ]);
  });
});
