import { ConfigError, loadConfig } from '@herald/config';
import { ingestConfig } from './ingest.config';

function load(env: Record<string, string>) {
  return loadConfig({ ingest: ingestConfig }, env);
}

describe('ingest config', () => {
  it('refuses a burst per key below the batch limit while the rate limit is on', () => {
    // Such a burst would answer every batch larger than it 429 with a Retry-After for ever.
    const start = () =>
      load({ HERALD_INGEST_RATE_PER_KEY: '10', HERALD_INGEST_BURST_PER_KEY: '50' });
    expect(start).toThrow(ConfigError);
    expect(start).toThrow(
      /HERALD_INGEST_BURST_PER_KEY: expected at least HERALD_MAX_BATCH_EVENTS \(1000\)/,
    );
    let error: unknown;
    try {
      start();
    } catch (thrown) {
      error = thrown;
    }
    expect((error as ConfigError).issues.map((issue) => issue.variable)).toEqual([
      'HERALD_INGEST_BURST_PER_KEY',
    ]);
  });

  it('takes a burst as large as the batch limit, a batch limit lowered to the burst, or no rate limit', () => {
    expect(
      load({ HERALD_INGEST_RATE_PER_KEY: '10', HERALD_INGEST_BURST_PER_KEY: '1000' }).ingest
        .burstPerKey,
    ).toBe(1000);
    expect(
      load({
        HERALD_INGEST_RATE_PER_KEY: '10',
        HERALD_INGEST_BURST_PER_KEY: '50',
        HERALD_MAX_BATCH_EVENTS: '50',
      }).ingest.maxBatchEvents,
    ).toBe(50);
    // Rate 0 is no limit: the burst is never used.
    expect(load({ HERALD_INGEST_BURST_PER_KEY: '50' }).ingest.ratePerKey).toBe(0);
  });
});
