import { loadConfig } from '@herald/config';
import { contractConfig } from './contract.config';

describe('contractConfig', () => {
  it('defaults to ./asyncapi', () => {
    expect(loadConfig({ contract: contractConfig }, {})).toEqual({
      contract: { dir: './asyncapi' },
    });
  });

  it('reads HERALD_CONTRACTS', () => {
    expect(
      loadConfig({ contract: contractConfig }, { HERALD_CONTRACTS: '/etc/herald/contracts' })
        .contract.dir,
    ).toBe('/etc/herald/contracts');
  });
});
