import pino from 'pino';
import { KafkaConnection } from './kafka.connection';
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
