import { loadConfig } from '@herald/config';
import { createAddressPolicy, judgeAddress } from './address-policy';
import { deliveryConfig } from './delivery.config';

describe('deliveryConfig', () => {
  it('has safe defaults', () => {
    expect(loadConfig({ delivery: deliveryConfig }, {}).delivery).toEqual({
      allowedNetworks: [],
      httpsOnly: false,
      connectTimeoutMs: 5000,
      requestTimeoutMs: 15000,
    });
  });

  it('reads the allow-list, https-only and timeouts', () => {
    const { delivery } = loadConfig(
      { delivery: deliveryConfig },
      {
        HERALD_ALLOWED_NETWORKS: '127.0.0.0/8, ::1/128,10.20.0.0/16',
        HERALD_HTTPS_ONLY: 'true',
        HERALD_DELIVERY_CONNECT_TIMEOUT_MS: '2000',
        HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '8000',
      },
    );
    expect(delivery).toEqual({
      allowedNetworks: ['127.0.0.0/8', '::1/128', '10.20.0.0/16'],
      httpsOnly: true,
      connectTimeoutMs: 2000,
      requestTimeoutMs: 8000,
    });
    expect(judgeAddress('10.20.3.4', createAddressPolicy(delivery.allowedNetworks)).allowed).toBe(
      true,
    );
  });

  it('names a bad network in the error', () => {
    expect(() =>
      loadConfig(
        { delivery: deliveryConfig },
        { HERALD_ALLOWED_NETWORKS: '127.0.0.0/8,10.0.0.1/8' },
      ),
    ).toThrow(
      /HERALD_ALLOWED_NETWORKS: expected a comma-separated list of CIDR blocks.*"10\.0\.0\.1\/8" has host bits set; did you mean 10\.0\.0\.0\/8\?/s,
    );
    expect(() =>
      loadConfig({ delivery: deliveryConfig }, { HERALD_DELIVERY_REQUEST_TIMEOUT_MS: '0' }),
    ).toThrow(
      /HERALD_DELIVERY_REQUEST_TIMEOUT_MS: expected a positive whole number of milliseconds/,
    );
  });
});
