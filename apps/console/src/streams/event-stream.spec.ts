import { eventStreamUrl, readEventStream, type EventStreamRequest } from './event-stream';

const request: EventStreamRequest = {
  streamsUrl: 'http://localhost:3002',
  key: 'hk_secret',
  types: ['order.*', 'kitchen.**'],
  filter: '{"data.total":{"$gt":5}}',
  from: 'latest',
  cursor: null,
};

describe('eventStreamUrl', () => {
  it('asks for the types and filter, from a cursor when resuming, and never names the key', () => {
    const fresh = new URL(eventStreamUrl(request));
    expect(fresh.pathname).toBe('/v1/streams/sse');
    expect(Object.fromEntries(fresh.searchParams)).toEqual({
      types: 'order.*,kitchen.**',
      filter: '{"data.total":{"$gt":5}}',
      from: 'latest',
    });
    const resumed = new URL(eventStreamUrl({ ...request, types: [], filter: null, cursor: 'abc' }));
    expect(Object.fromEntries(resumed.searchParams)).toEqual({ cursor: 'abc' });
  });
});

describe('readEventStream', () => {
  const realFetch = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  it('sends the key as a bearer token, not in the URL, and reads the events', async () => {
    const body = 'id: c1\nevent: order.created\ndata: {"id":"1","type":"order.created"}\n\n';
    const fetchStream = jest.fn((_url: string, _init?: RequestInit) =>
      Promise.resolve(new Response(body, { headers: { 'content-type': 'text/event-stream' } })),
    );
    globalThis.fetch = fetchStream as unknown as typeof fetch;
    const events: unknown[] = [];

    const end = await readEventStream(request, {
      onOpen: () => undefined,
      onEvent: (event, cursor) => events.push({ id: event.id, cursor }),
      signal: new AbortController().signal,
    });

    expect(fetchStream).toHaveBeenCalledTimes(1);
    const [url, init] = fetchStream.mock.calls[0]!;
    expect(url).not.toContain('hk_secret');
    expect(new URL(url).searchParams.has('access_token')).toBe(false);
    expect(new Headers(init?.headers).get('authorization')).toBe('Bearer hk_secret');
    expect(new Headers(init?.headers).get('accept')).toBe('text/event-stream');
    expect(events).toEqual([{ id: '1', cursor: 'c1' }]);
    expect(end).toEqual({ cursor: 'c1', reason: null, message: null });
  });

  it("ends with the reason and message of Herald's end event, and the cursor it names", async () => {
    const body =
      'id: c1\nevent: order.created\ndata: {"id":"1","type":"order.created"}\n\n' +
      'id: c2\nevent: herald.stream.end\ndata: {"reason":"key_deleted","cursor":"c2","message":"The API key of this stream was deleted"}\n\n';
    globalThis.fetch = jest.fn(() =>
      Promise.resolve(new Response(body, { headers: { 'content-type': 'text/event-stream' } })),
    );

    const end = await readEventStream(request, {
      onOpen: () => undefined,
      onEvent: () => undefined,
      signal: new AbortController().signal,
    });

    expect(end).toEqual({
      cursor: 'c2',
      reason: 'key_deleted',
      message: 'The API key of this stream was deleted',
    });
  });
});
