import { HeraldError, isHeraldError } from './herald.error';

class ExampleError extends HeraldError {}

describe('HeraldError', () => {
  it('carries code, retryable and cause, and names its subclass', () => {
    const cause = new Error('socket closed');
    const error = new ExampleError('kafka.unavailable', 'broker is down', {
      retryable: true,
      cause,
    });
    expect(error.code).toBe('kafka.unavailable');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('ExampleError');
    expect(error).toBeInstanceOf(Error);
  });

  it('defaults to not retryable', () => {
    expect(new HeraldError('x.y', 'm').retryable).toBe(false);
  });

  it('matches by code', () => {
    const error = new HeraldError('a.b', 'm');
    expect(isHeraldError(error)).toBe(true);
    expect(isHeraldError(error, 'a.b', 'c.d')).toBe(true);
    expect(isHeraldError(error, 'c.d')).toBe(false);
    expect(isHeraldError(new Error('plain'))).toBe(false);
  });
});
