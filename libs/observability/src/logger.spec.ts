import { Writable } from 'node:stream';
import pino from 'pino';
import { NestPinoLogger } from './logger';

describe('NestPinoLogger', () => {
  it('writes Nest log calls as JSON lines with their context', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = new NestPinoLogger(pino({ level: 'debug' }, sink));
    logger.log('started', 'Bootstrap');
    logger.error(new Error('boom'), 'stack here', 'Router');
    logger.warn({ detail: 1 }, 'Other');
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'started', context: 'Bootstrap', level: 30 }),
      expect.objectContaining({ msg: 'boom', context: 'Router', trace: 'stack here', level: 50 }),
      expect.objectContaining({ msg: '{"detail":1}', context: 'Other', level: 40 }),
    ]);
  });
});
