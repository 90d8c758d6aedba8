import { MetricsRegistry } from '@herald/observability';
import { eventDeliveryLatency, secondsSince } from './event-latency.metric';

describe('eventDeliveryLatency', () => {
  it('is registered once and shared by every caller', async () => {
    const metrics = new MetricsRegistry('test');
    const first = eventDeliveryLatency(metrics);
    const second = eventDeliveryLatency(metrics);
    expect(second).toBe(first);
    first.observe({ transport: 'webhook' }, 0.2);
    second.observe({ transport: 'sse' }, 0.1);
    const text = await metrics.metrics();
    expect(text).toMatch(/herald_event_delivery_latency_seconds_count\{[^}]*transport="webhook"/);
    expect(text).toMatch(/herald_event_delivery_latency_seconds_count\{[^}]*transport="sse"/);
  });

  it('measures from the event time and ignores times that do not parse', () => {
    expect(secondsSince('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:01.500Z'))).toBe(1.5);
    expect(secondsSince('2026-01-01T00:00:02Z', Date.parse('2026-01-01T00:00:01Z'))).toBe(0);
    expect(secondsSince('yesterday')).toBeNull();
  });
});
