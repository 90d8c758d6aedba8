import type { FastifyReply } from 'fastify';
import { UnauthenticatedError, type Principal } from '@herald/auth';
import { PollController } from './poll.controller';
import type { EndReason } from './stream-connection';
import type { StreamPlanner } from './stream-planner';
import type { StreamsConfig } from './streams.config';
import type { StreamsService } from './streams.service';

const CONFIG = { pollMaxWaitSeconds: 30, pollMaxLimit: 100, pollMaxBytes: 1024 * 1024 };

/**
 * A controller over a service whose `open` may end the connection before it returns, as the real
 * one does when a shutdown began, the key was deleted or the subscription changed while the
 * poll was being set up.
 */
function controllerEnding(reason: EndReason | null): PollController {
  const streams = {
    admit: () => Promise.resolve({ release: () => undefined }),
    startPoint: () => Promise.resolve({ seq: 0, cursor: 'c0' }),
    open: (sink: { end(reason: EndReason, cursor: string): void }) => {
      const connection = { end: (why: EndReason) => sink.end(why, 'c1') };
      if (reason !== null) connection.end(reason);
      return connection;
    },
  } as unknown as StreamsService;
  const planner = {
    plan: () => Promise.resolve({ subscriptionId: null, start: { kind: 'latest' } }),
  } as unknown as StreamPlanner;
  return new PollController(streams, planner, CONFIG as unknown as StreamsConfig);
}

const principal = { keyId: 'k1', tenant: 't1' } as unknown as Principal;
const reply = { raw: { destroyed: false, once: () => undefined } } as unknown as FastifyReply;

describe('PollController', () => {
  afterEach(() => jest.useRealTimers());

  it('arms no wait for a poll that ended as it opened, and answers it at once', async () => {
    jest.useFakeTimers();
    const controller = controllerEnding('key_deleted');
    await expect(controller.poll(principal, { wait: '25' }, reply)).rejects.toBeInstanceOf(
      UnauthenticatedError,
    );
    // Before, a 25 s timer was left behind (holding the process up to `wait` seconds).
    expect(jest.getTimerCount()).toBe(0);

    const shutdown = controllerEnding('shutdown');
    await expect(shutdown.poll(principal, { wait: '25' }, reply)).resolves.toEqual({
      events: [],
      cursor: 'c1',
    });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('waits up to `wait` seconds for a poll that opened, then answers with where to go on', async () => {
    jest.useFakeTimers();
    const answer = controllerEnding(null).poll(principal, { wait: '25' }, reply);
    // The controller's promises settle, and its wait is armed.
    await jest.advanceTimersByTimeAsync(0);
    expect(jest.getTimerCount()).toBe(1);
    await jest.advanceTimersByTimeAsync(25_000);
    await expect(answer).resolves.toEqual({ events: [], cursor: 'c1' });
    expect(jest.getTimerCount()).toBe(0);
  });
});
