import { HeraldError } from '@herald/errors';
import type { Logger } from '@herald/observability';
import { loggableUrl, sendProblem, toProblem } from './problem-details';

function capture() {
  const errors: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = {
    error: (fields: Record<string, unknown>, message: string) => errors.push({ fields, message }),
  } as unknown as Logger;
  const sent: unknown[] = [];
  const reply = {
    header: () => reply,
    status: () => reply,
    type: () => reply,
    send: (payload: unknown) => sent.push(payload),
  };
  return { errors, logger, reply, sent };
}

describe('problem details', () => {
  it('logs an unexpected failure without the API key a stream request carried in its query', () => {
    const { errors, logger, reply, sent } = capture();
    const key = 'hk_live_0123456789abcdef';
    sendProblem(
      new Error('offsets lookup failed'),
      { method: 'GET', url: `/v1/streams/sse?types=order.*&access_token=${key}&from=earliest` },
      reply,
      logger,
    );
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).not.toContain(key);
    expect(errors[0]!.fields.url).toBe(
      '/v1/streams/sse?types=order.*&access_token=[redacted]&from=earliest',
    );
    expect(sent[0]).toMatchObject({ status: 500, instance: '/v1/streams/sse' });
  });

  it('redacts every spelling and position of access_token, and leaves other URLs alone', () => {
    expect(loggableUrl('/v1/streams/poll?ACCESS_TOKEN=abc')).toBe(
      '/v1/streams/poll?ACCESS_TOKEN=[redacted]',
    );
    // Fastify reads `def#f` as the value: a `#` after the query is no fragment to it.
    expect(loggableUrl('/x?a=1&access_token=abc&access_token=def#f')).toBe(
      '/x?a=1&access_token=[redacted]&access_token=[redacted]',
    );
    expect(loggableUrl('/v1/subscriptions?limit=10')).toBe('/v1/subscriptions?limit=10');
  });

  it('redacts access_token by the name Fastify decodes, however it is encoded', () => {
    expect(loggableUrl('/v1/streams/sse?types=a.*&access%5Ftoken=k1&%61ccess_token=k2')).toBe(
      '/v1/streams/sse?types=a.*&access%5Ftoken=[redacted]&%61ccess_token=[redacted]',
    );
    // Fastify's query also starts at a `#` that comes before any `?`.
    expect(loggableUrl('/v1/streams/sse#access_token=k3')).toBe(
      '/v1/streams/sse#access_token=[redacted]',
    );
    expect(loggableUrl('/x?access+token=a&access_token%=b&access%ZZtoken=c')).toBe(
      '/x?access+token=a&access_token%=b&access%ZZtoken=c',
    );
  });

  it("names Fastify's own status-only failures (a URL too long) with a title and a code", () => {
    const { problem } = toProblem({ statusCode: 414, message: 'URI Too Long' });
    expect(problem).toMatchObject({
      status: 414,
      title: 'URI Too Long',
      code: 'http.uri_too_long',
    });
  });

  it('does not log an expected problem at all', () => {
    const { errors, logger, reply, sent } = capture();
    sendProblem(
      new HeraldError('test.invalid', 'bad'),
      { method: 'GET', url: '/x?access_token=k' },
      reply,
      logger,
    );
    expect(errors).toHaveLength(0);
    expect(sent[0]).toMatchObject({ status: 400 });
  });
});
