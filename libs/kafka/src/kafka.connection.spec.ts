import pino from 'pino';
import { KafkaConnection } from './kafka.connection';

describe('KafkaConnection', () => {
  it('fails its readiness probe quickly when no broker answers', async () => {
    const connection = new KafkaConnection(
      { brokers: ['127.0.0.1:1'], embedded: false, clientId: undefined },
      'test',
      pino({ level: 'silent' }),
    );
    const started = Date.now();
    await expect(connection.ping()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    await connection.close();
  });
});
