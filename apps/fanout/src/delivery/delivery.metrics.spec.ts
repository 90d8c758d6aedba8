import { MetricsRegistry } from '@herald/observability';
import { DeliveryMetrics } from './delivery.metrics';

async function exposition(perSubscription: boolean): Promise<string> {
  const registry = new MetricsRegistry('herald-fanout');
  const metrics = new DeliveryMetrics(registry, () => Promise.resolve(0), perSubscription);
  metrics.attempt('delivered', 204, 12, 'sub_a');
  metrics.attempt('failed', 503, 40, 'sub_b');
  metrics.attempt('failed', 503, 41, 'sub_b');
  metrics.deadLettered('sub_b');
  return registry.registry.metrics();
}

describe('delivery metrics', () => {
  it('carry no subscription ids by default (SPEC §8: labels stay bounded)', async () => {
    const text = await exposition(false);
    expect(text).not.toContain('sub_');
    expect(text).toMatch(/herald_deliveries_total\{outcome="failed",status_class="5xx"[^}]*\} 2/);
    expect(text).toMatch(/herald_dead_letters_total\{[^}]*\} 1/);
  });

  it('count attempts and dead letters by subscription with HERALD_METRICS_PER_SUBSCRIPTION', async () => {
    const text = await exposition(true);
    expect(text).toMatch(
      /herald_deliveries_total\{outcome="delivered",status_class="2xx",subscription="sub_a"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /herald_deliveries_total\{outcome="failed",status_class="5xx",subscription="sub_b"[^}]*\} 2/,
    );
    expect(text).toMatch(/herald_dead_letters_total\{subscription="sub_b"[^}]*\} 1/);
  });
});
