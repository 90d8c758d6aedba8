import { startDeliveryHarness, waitFor, type DeliveryHarness } from './delivery.fixture';

describe('fanout readiness', () => {
  let harness: DeliveryHarness | undefined;

  afterAll(() => harness?.close());

  it('fails while its source consumer has crashed for good', async () => {
    // Below the broker's smallest session timeout: the group refuses the join, and kafkajs does
    // not restart a consumer after that refusal. The instance then delivers nothing.
    harness = await startDeliveryHarness({ HERALD_FANOUT_SESSION_TIMEOUT_MS: '500' });
    const body = await waitFor(
      async () => {
        const response = await fetch(`${harness!.fanout.url}/health/ready`);
        return response.status === 503 ? await response.text() : undefined;
      },
      { timeoutMs: 30_000, what: 'readiness to fail' },
    );
    expect(body).toContain('delivery');
    expect(body).toContain('crashed for good');
  }, 60_000);
});
