import {
  eventStreamUrl,
  MAX_GAP_TOPIC_LENGTH,
  parseStreamGap,
  readEventStream,
  streamGapNotice,
  type EventStreamRequest,
} from './event-stream';

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
      onGap: () => undefined,
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
      onGap: () => undefined,
      signal: new AbortController().signal,
    });

    expect(end).toEqual({
      cursor: 'c2',
      reason: 'key_deleted',
      message: 'The API key of this stream was deleted',
    });
  });

  it('hands each gap to onGap with the cursor past it, and reads on', async () => {
    const gap = {
      topic: 'orders.v1',
      partition: 2,
      requestedOffset: '100',
      resumedOffset: '250',
      skipped: 150,
      cursor: 'c-gap',
    };
    const body =
      `id: c-gap\nevent: herald.stream.gap\ndata: ${JSON.stringify(gap)}\n\n` +
      'id: c1\nevent: order.created\ndata: {"id":"1","type":"order.created"}\n\n' +
      // Hostile or broken: still a gap the partner is told of, never an "Unreadable event".
      'id: c-gap2\nevent: herald.stream.gap\ndata: <not json>\n\n';
    globalThis.fetch = jest.fn(() =>
      Promise.resolve(new Response(body, { headers: { 'content-type': 'text/event-stream' } })),
    );
    const seen: unknown[] = [];

    const end = await readEventStream(request, {
      onOpen: () => undefined,
      onEvent: (event, cursor) => seen.push({ event: event.id, cursor }),
      onGap: (found, cursor) => seen.push({ gap: found, cursor }),
      signal: new AbortController().signal,
    });

    expect(seen).toEqual([
      {
        gap: {
          topic: 'orders.v1',
          partition: 2,
          requestedOffset: '100',
          resumedOffset: '250',
          skipped: 150,
        },
        cursor: 'c-gap',
      },
      { event: '1', cursor: 'c1' },
      {
        gap: {
          topic: null,
          partition: null,
          requestedOffset: null,
          resumedOffset: null,
          skipped: null,
        },
        cursor: 'c-gap2',
      },
    ]);
    expect(end.cursor).toBe('c-gap2');
  });
});

describe('parseStreamGap and streamGapNotice', () => {
  const gap = (fields: Record<string, unknown>) => parseStreamGap(JSON.stringify(fields));

  it('tells where, how many records at most, and where the tail resumed', () => {
    expect(
      streamGapNotice(
        gap({
          topic: 'orders.v1',
          partition: 2,
          requestedOffset: '100',
          resumedOffset: '1250',
          skipped: 1150,
          cursor: 'c',
        }),
      ),
    ).toBe(
      'Kafka no longer holds the records after your position on orders.v1/2 (up to 1,150 records, of any type); the tail resumed at the oldest held, offset 1250.',
    );
    expect(streamGapNotice(gap({ topic: 'orders.v1', partition: 0, skipped: 1 }))).toBe(
      'Kafka no longer holds the records after your position on orders.v1/0 (up to 1 record, of any type); the tail resumed at the oldest held.',
    );
  });

  it('keeps only well-formed fields, and still says that records were skipped', () => {
    expect(
      gap({
        topic: 42,
        partition: -1,
        requestedOffset: 100,
        resumedOffset: '12e3',
        skipped: 'many',
      }),
    ).toEqual({
      topic: null,
      partition: null,
      requestedOffset: null,
      resumedOffset: null,
      skipped: null,
    });
    for (const data of ['', 'null', '[1]', '"text"', '{"skipped":1e400}', '{"partition":1.5}'])
      expect(streamGapNotice(parseStreamGap(data))).toMatch(
        /^Kafka no longer holds the records after your position(?: on \S+)?; the tail resumed at the oldest held\.$/,
      );
  });

  it('keeps a hostile topic to one bounded line of text', () => {
    const markup = '<img src=x onerror="alert(1)">';
    const topic = `${markup}\n\u2028${'x'.repeat(100_000)}`;
    const parsed = gap({ topic, partition: 0, skipped: Number.MAX_SAFE_INTEGER + 2 });
    expect(parsed.topic).toHaveLength(MAX_GAP_TOPIC_LENGTH);
    expect(parsed.topic).toMatch(/^<img src=x onerror="alert\(1\)"> {2}x+$/);
    expect(parsed.skipped).toBeNull();
    expect(streamGapNotice(parsed).length).toBeLessThan(MAX_GAP_TOPIC_LENGTH + 200);
    expect(streamGapNotice(parsed)).not.toMatch(/[\n\u2028]/);
  });
});
