import type { WebhookReceiver } from '@herald/delivery/testing';
import { parseTraceparent } from '@herald/observability';
import {
  startTestCollector,
  type CollectedSpan,
  type TestCollector,
} from '@herald/observability/testing';
import {
  createSubscription,
  orderEvents,
  startDeliveryHarness,
  waitFor,
  type DeliveryHarness,
} from './delivery.fixture';

const PRODUCER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('webhook delivery with tracing on', () => {
  let harness: DeliveryHarness;
  let receiver: WebhookReceiver;
  let collector: TestCollector;

  beforeAll(async () => {
    collector = await startTestCollector();
    harness = await startDeliveryHarness({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint });
    let calls = 0;
    // The first attempt fails, the retry succeeds: two spans, one per attempt.
    receiver = await harness.receiver(() => ({ status: ++calls === 1 ? 503 : 204 }));
  }, 60_000);

  afterAll(async () => {
    await harness?.close();
    await collector?.close();
  });

  it("records a herald.deliver span per attempt in the producer's trace, parent of the webhook request", async () => {
    await createSubscription(harness.store, receiver.url, { retry: { schedule: ['100ms'] } });
    const [event] = orderEvents(1, 1);
    await harness.events.publish([{ ...event!, traceparent: PRODUCER }]);
    const received = await receiver.waitFor(2);
    const producer = parseTraceparent(PRODUCER)!;

    const attempts = await waitFor(
      () => {
        const deliver = collector.spans.filter((s) => s.name === 'herald.deliver');
        return deliver.length >= 2 && deliver;
      },
      { what: 'two herald.deliver spans', timeoutMs: 15_000 },
    );
    const attribute = (span: CollectedSpan, key: string) =>
      span.attributes.find((a) => a.key === key)?.value;
    for (const [n, span] of attempts.entries()) {
      expect(span.traceId).toBe(producer.traceId);
      expect(span.parentSpanId).toBe(producer.spanId);
      expect(span.kind).toBe(3); // SPAN_KIND_CLIENT
      expect(attribute(span, 'herald.attempt')).toEqual({ intValue: String(n + 1) });
      // The receiver's traceparent names this attempt's span as its parent.
      const sent = parseTraceparent(String(received[n]!.headers['traceparent']));
      expect(sent).toMatchObject({ traceId: producer.traceId, spanId: span.spanId });
    }
    expect(attribute(attempts[0]!, 'http.response.status_code')).toEqual({ intValue: '503' });
    expect(attempts[0]!.status.code).toBe(2); // STATUS_CODE_ERROR
    expect(attribute(attempts[1]!, 'herald.outcome')).toEqual({ stringValue: 'success' });
    expect(attempts[1]!.status.code).not.toBe(2);
  });
});
