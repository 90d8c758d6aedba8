import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiProblem } from '../api/api-problem';
import { streamEndOutcome } from './event-stream';
import { pauseFor, tailEventStream, type TailState } from './event-tail';

/** One answer of the test's streams server: an SSE body, or a refusal. */
type Answer =
  { body: string; contentType?: string } | { status: number; problem: Record<string, unknown> };

const event = (cursor: string, id: string) =>
  `id: ${cursor}\nevent: order.created\ndata: {"id":"${id}","type":"order.created","source":"test"}\n\n`;

const gap = (cursor: string, fields: Record<string, unknown>) =>
  `id: ${cursor}\nevent: herald.stream.gap\ndata: ${JSON.stringify({ ...fields, cursor })}\n\n`;

const end = (cursor: string, reason: string, message?: string) =>
  `id: ${cursor}\nevent: herald.stream.end\ndata: ${JSON.stringify({ reason, cursor, ...(message === undefined ? {} : { message }) })}\n\n`;

/**
 * A real HTTP server standing in for fanout's `/v1/streams/sse`: it gives the scripted answers in
 * turn (ending each stream after its body), and refuses once they run out.
 */
async function startStreamsServer(answers: Answer[]) {
  const requests: URL[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(new URL(request.url ?? '/', 'http://localhost'));
    const answer = answers[requests.length - 1] ?? {
      status: 410,
      problem: { title: 'Gone', detail: 'The test has no more answers' },
    };
    if ('body' in answer) {
      response.writeHead(200, { 'content-type': answer.contentType ?? 'text/event-stream' });
      response.end(answer.body);
    } else {
      response.writeHead(answer.status, { 'content-type': 'application/problem+json' });
      response.end(JSON.stringify({ status: answer.status, ...answer.problem }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Tails the server until the tail stops by itself; records what the page would show. */
async function tail(answers: Answer[], onPause: () => void = () => undefined) {
  const streams = await startStreamsServer(answers);
  const seen = {
    states: [] as { state: TailState; notice: string | null }[],
    events: [] as { id: string; cursor: string | null }[],
    gaps: [] as string[],
    troubles: [] as string[],
    pauses: [] as number[],
    requests: streams.requests,
    stopped: undefined as ApiProblem | null | undefined,
  };
  try {
    seen.stopped = await tailEventStream(
      { streamsUrl: streams.url, key: 'hk_test', types: ['order.*'], filter: null, from: 'latest' },
      {
        signal: new AbortController().signal,
        onState: (state, notice) => seen.states.push({ state, notice }),
        onEvent: (streamed, cursor) => seen.events.push({ id: streamed.id, cursor }),
        onGap: (notice) => seen.gaps.push(notice),
        onTrouble: (problem) => seen.troubles.push(problem.message),
        // No waiting in a test: the pauses asked for are recorded instead.
        pause: (ms) => {
          seen.pauses.push(ms);
          onPause();
          return Promise.resolve();
        },
      },
    );
  } finally {
    await streams.close();
  }
  return seen;
}

describe('streamEndOutcome', () => {
  it.each([
    ['slow_consumer', 'resume'],
    ['shutdown', 'resume'],
    ['subscription_changed', 'resume'],
    ['server_error', 'retry'],
    ['a_reason_from_a_newer_server', 'retry'],
    ['key_deleted', 'stop'],
    ['subscription_deleted', 'stop'],
    ['subscription_paused', 'stop'],
    ['subscription_disabled', 'stop'],
  ])('%s: %s', (reason, action) => {
    expect(streamEndOutcome({ cursor: 'c', reason, message: 'in Herald’s words' })).toEqual({
      action,
      message: 'in Herald’s words',
    });
    // Without the server's words the user still learns why.
    expect(streamEndOutcome({ cursor: 'c', reason, message: null }).message).toMatch(/\S/);
  });

  it('resumes without a notice when the connection closed without a word', () => {
    expect(streamEndOutcome({ cursor: 'c', reason: null, message: null })).toEqual({
      action: 'resume',
      message: null,
    });
  });
});

describe('tailEventStream', () => {
  it.each([
    ['key_deleted', 'The API key of this stream was deleted'],
    ['subscription_deleted', 'The stream subscription was deleted'],
    ['subscription_paused', 'The stream subscription was paused; resume it to stream again'],
    ['subscription_disabled', 'The stream subscription was disabled'],
  ])('stops at %s, with Herald’s message, instead of connecting again', async (reason, message) => {
    const seen = await tail([{ body: event('c1', 'e1') + end('c1', reason, message) }]);

    expect(seen.requests).toHaveLength(1);
    expect(seen.events).toEqual([{ id: 'e1', cursor: 'c1' }]);
    expect(seen.stopped).toMatchObject({
      status: null,
      title: 'Herald ended the stream',
      detail: message,
      code: reason,
    });
    expect(seen.pauses).toEqual([]);
  });

  it.each([
    ['slow_consumer', 'The client read too slowly; resume from the cursor'],
    ['shutdown', 'This server is shutting down; resume from the cursor'],
    [
      'subscription_changed',
      "The stream subscription's types or filter changed; connect again to stream with them",
    ],
  ])('connects again at %s, from the cursor the end names, saying why', async (reason, message) => {
    const seen = await tail([
      { body: event('c1', 'e1') + end('c2', reason, message) },
      { body: event('c3', 'e2') + end('c3', 'key_deleted') },
    ]);

    expect(seen.requests).toHaveLength(2);
    expect(seen.requests[0]!.searchParams.get('from')).toBe('latest');
    expect(seen.requests[1]!.searchParams.get('cursor')).toBe('c2');
    expect(seen.events.map((e) => e.id)).toEqual(['e1', 'e2']);
    expect(seen.states).toEqual([
      { state: 'connecting', notice: null },
      { state: 'open', notice: null },
      { state: 'reconnecting', notice: message },
      { state: 'open', notice: null },
    ]);
    expect(seen.pauses).toEqual([1000]);
    expect(seen.stopped?.code).toBe('key_deleted');
  });

  it('connects again from the last event when the stream just closes', async () => {
    const seen = await tail([
      { body: event('c1', 'e1') },
      { body: end('c1', 'subscription_deleted') },
    ]);

    expect(seen.requests[1]!.searchParams.get('cursor')).toBe('c1');
    expect(seen.states[2]).toEqual({ state: 'reconnecting', notice: null });
    expect(seen.stopped?.code).toBe('subscription_deleted');
  });

  it('tries again after a growing pause at server_error and at reasons it does not know', async () => {
    const seen = await tail([
      { body: end('c1', 'server_error') },
      { body: end('c1', 'server_error', 'Something broke') },
      { body: end('c1', 'a_reason_from_a_newer_server', 'Something new') },
      { body: event('c2', 'e1') + end('c2', 'shutdown') },
      { body: end('c2', 'key_deleted') },
    ]);

    expect(seen.requests).toHaveLength(5);
    expect(seen.requests.slice(1).map((url) => url.searchParams.get('cursor'))).toEqual([
      'c1',
      'c1',
      'c1',
      'c2',
    ]);
    // An event is progress: the pause starts over.
    expect(seen.pauses).toEqual([2000, 4000, 8000, 1000]);
    expect(seen.states.filter((s) => s.state === 'reconnecting').map((s) => s.notice)).toEqual([
      'The streams server failed',
      'Something broke',
      'Something new',
      'The streams server is shutting down',
    ]);
  });

  it('backs off when streams close at once with no event and no end, and starts over at an event', async () => {
    const seen = await tail([
      { body: '' },
      { body: ': heartbeat\n\n' },
      { body: '' },
      { body: '' },
      { body: '' },
      { body: '' },
      { body: event('c1', 'e1') },
      { body: '' },
      { body: end('c1', 'key_deleted') },
    ]);

    expect(seen.requests).toHaveLength(9);
    // Doubling to the 15 s cap, as after a failure; one second again after an event.
    expect(seen.pauses).toEqual([2000, 4000, 8000, 15_000, 15_000, 15_000, 1000, 2000]);
    expect(seen.requests[7]!.searchParams.get('cursor')).toBe('c1');
    expect(seen.stopped?.code).toBe('key_deleted');
  });

  it('does not back off after a quiet stream that stayed open a while, then dropped', async () => {
    // Each look at the clock is 40 s later: every stream lived past the 30 s that make it quiet,
    // not closed at once.
    let now = Date.parse('2026-01-01T12:00:00.000Z');
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => (now += 40_000));
    try {
      const seen = await tail([
        { body: ': heartbeat\n\n' },
        { body: '' },
        { body: ': heartbeat\n\n' },
        { body: end('c1', 'key_deleted') },
      ]);
      expect(seen.requests).toHaveLength(4);
      expect(seen.pauses).toEqual([1000, 1000, 1000]);
    } finally {
      clock.mockRestore();
    }
  });

  it('resumes a tail of new events that closed before its first event from when it was last alive, not from the newest', async () => {
    // The clock moves a minute at each pause, so each reconnect's `from` shows which moment it
    // took: the first connect, then the last open or heartbeat of the stream before.
    let now = Date.parse('2026-01-01T12:00:00.000Z');
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const seen = await tail(
        [{ body: '' }, { body: ': heartbeat\n\n' }, { body: end('c1', 'key_deleted') }],
        () => {
          now += 60_000;
        },
      );
      expect(seen.requests.map((url) => url.searchParams.get('from'))).toEqual([
        'latest',
        '2026-01-01T11:59:58.000Z',
        '2026-01-01T12:00:58.000Z',
      ]);
      expect(seen.requests.map((url) => url.searchParams.get('cursor'))).toEqual([
        null,
        null,
        null,
      ]);
    } finally {
      clock.mockRestore();
    }
  });

  it('tells of a gap in plain words, resumes past it, and a gap alone does not end the backoff', async () => {
    const fields = {
      topic: 'orders.v1',
      partition: 2,
      requestedOffset: '100',
      resumedOffset: '250',
      skipped: 150,
    };
    const seen = await tail([
      { body: '' },
      { body: gap('c-gap', fields) },
      { body: event('c1', 'e1') + end('c1', 'key_deleted') },
    ]);

    expect(seen.gaps).toEqual([
      'Kafka no longer holds the records after your position on orders.v1/2 (up to 150 records, of any type); the tail resumed at the oldest held, offset 250.',
    ]);
    // Reconnecting from past the gap, the tail is not told of it again.
    expect(seen.requests[2]!.searchParams.get('cursor')).toBe('c-gap');
    expect(seen.pauses).toEqual([2000, 4000]);
    expect(seen.events).toEqual([{ id: 'e1', cursor: 'c1' }]);
    expect(seen.troubles).toEqual([]);
  });

  it('tries again when the server is unavailable, and stops when Herald refuses the stream', async () => {
    const seen = await tail([
      { status: 503, problem: { title: 'Service Unavailable', detail: 'Streams are starting' } },
      { status: 401, problem: { title: 'Unauthorized', detail: 'The API key is not valid' } },
    ]);

    expect(seen.requests).toHaveLength(2);
    expect(seen.troubles).toEqual(['Service Unavailable: Streams are starting']);
    expect(seen.stopped).toMatchObject({ status: 401, detail: 'The API key is not valid' });
  });
});

describe('tailEventStream at a URL that is not a streams API', () => {
  // HERALD_STREAMS_URL pointing at a web server that answers every path with a page.
  it('says so and backs off, instead of showing "Connected" and reconnecting every second', async () => {
    const page = { body: '<!doctype html><title>Welcome</title>', contentType: 'text/html' };
    const seen = await tail([page, page, page]);
    expect(seen.requests).toHaveLength(4);
    expect(seen.states.map((s) => s.state)).not.toContain('open');
    expect(seen.troubles).toHaveLength(3);
    expect(seen.troubles[0]).toMatch(/answered text\/html, not an event stream/);
    expect(seen.pauses).toEqual([2000, 4000, 8000]);
    expect(seen.stopped).toMatchObject({ status: 410 });
  });
});

describe('pauseFor', () => {
  it('leaves no listener on the tail’s signal after each pause, however many reconnects', async () => {
    const controller = new AbortController();
    for (let pause = 0; pause < 5; pause += 1) await pauseFor(1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const aborted = pauseFor(60_000, controller.signal);
    controller.abort();
    await aborted;
    await pauseFor(60_000, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
