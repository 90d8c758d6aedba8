import { loadConfig } from '@herald/config';
import { observabilityConfig } from './observability.config';

const load = (env: Record<string, string>) =>
  loadConfig({ observability: observabilityConfig }, env).observability;

describe('observabilityConfig', () => {
  it('takes LOG_LEVEL in any letter case', () => {
    expect(load({ LOG_LEVEL: 'INFO' }).logLevel).toBe('info');
    expect(load({ LOG_LEVEL: 'Debug\n' }).logLevel).toBe('debug');
  });

  it('says what OTEL_EXPORTER_OTLP_ENDPOINT expects', () => {
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: expected a http or https URL/,
    );
  });

  it('refuses a shutdown timeout longer than a timer can wait', () => {
    // Node fires a longer timer after 1 ms: every SIGTERM would end at once with exit 1.
    expect(() => load({ HERALD_SHUTDOWN_TIMEOUT_MS: '3000000000' })).toThrow(
      /HERALD_SHUTDOWN_TIMEOUT_MS: expected .* at most 2147483647/,
    );
    expect(load({ HERALD_SHUTDOWN_TIMEOUT_MS: '2147483647' }).shutdownTimeoutMs).toBe(2147483647);
  });
});
