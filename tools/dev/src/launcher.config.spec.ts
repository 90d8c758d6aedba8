import { ConfigError } from '@herald/config';
import { readLauncherConfig } from './launcher.config';

describe('the settings npm start acts on', () => {
  it('counts empty and blank variables as unset, as the apps do', () => {
    expect(
      readLauncherConfig({
        REDIS_URL: '',
        KAFKA_BROKERS: ' ',
        HERALD_ADMIN_KEY: '\t',
        SUBSCRIPTION_API_PORT: '',
        INGEST_BRIDGE_PORT: ' ',
        HERALD_DATA_DIR: ' ',
      }),
    ).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      kafkaBrokers: undefined,
      adminKey: undefined,
      dataDir: '.data',
      ports: { 'subscription-api': 3000, 'ingest-bridge': 3001, fanout: 3002 },
    });
  });

  it('takes what is set', () => {
    expect(
      readLauncherConfig({
        REDIS_URL: 'redis://cache:6380',
        KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092',
        HERALD_ADMIN_KEY: 'hk_admin_0123456789abcdef',
        FANOUT_PORT: '4002',
        HERALD_DATA_DIR: '/var/tmp/herald-data',
      }),
    ).toEqual({
      redisUrl: 'redis://cache:6380',
      kafkaBrokers: 'kafka-1:9092,kafka-2:9092',
      adminKey: 'hk_admin_0123456789abcdef',
      dataDir: '/var/tmp/herald-data',
      ports: { 'subscription-api': 3000, 'ingest-bridge': 3001, fanout: 4002 },
    });
  });

  it('stops on a bad value, naming the variable, before anything starts', () => {
    const read = () => readLauncherConfig({ FANOUT_PORT: 'eighty', REDIS_URL: 'http://x' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/FANOUT_PORT: expected/);
    expect(read).toThrow(/REDIS_URL: expected/);
  });
});
