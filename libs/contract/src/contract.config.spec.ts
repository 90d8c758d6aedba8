import { loadConfig } from '@herald/config';
import { contractConfig } from './contract.config';

describe('contractConfig', () => {
  it('defaults to ./asyncapi and the default parse cache', () => {
    expect(loadConfig({ contract: contractConfig }, {})).toEqual({
      contract: { dir: './asyncapi', cacheDir: undefined },
    });
  });

  it('reads HERALD_CONTRACTS', () => {
    expect(
      loadConfig({ contract: contractConfig }, { HERALD_CONTRACTS: '/etc/herald/contracts' })
        .contract.dir,
    ).toBe('/etc/herald/contracts');
  });

  it('reads HERALD_CONTRACT_CACHE: a folder, or off', () => {
    const cacheDir = (value: string) =>
      loadConfig({ contract: contractConfig }, { HERALD_CONTRACT_CACHE: value }).contract.cacheDir;
    expect(cacheDir('/var/cache/herald')).toBe('/var/cache/herald');
    expect(cacheDir('off')).toBe(false);
    expect(cacheDir('')).toBeUndefined();
  });
});
