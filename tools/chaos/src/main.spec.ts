import { parseArguments, parseDuration } from './main';

describe('the chaos CLI', () => {
  it('reads durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(() => parseDuration('soon')).toThrow('not a duration');
  });

  it('defaults to the short run with faults, and the soak to an hour without', () => {
    expect(parseArguments([])).toMatchObject({ events: 6000, rate: 100, faults: true });
    expect(parseArguments(['--soak'])).toMatchObject({
      events: 360_000,
      faults: false,
      profile: 'soak',
    });
    expect(parseArguments(['--long', '--rate', '50'])).toMatchObject({ events: 30_000 });
    expect(parseArguments(['--events=10', '--fault-targets', 'redis,fanout'])).toMatchObject({
      events: 10,
      faultTargets: ['redis', 'fanout'],
    });
  });

  it('refuses unknown flags and bad values', () => {
    expect(() => parseArguments(['--fast'])).toThrow('unknown --fast');
    expect(() => parseArguments(['--faults', 'maybe'])).toThrow('on or off');
    expect(() => parseArguments(['--fault-targets', 'kafka'])).toThrow('not one of');
  });
});
