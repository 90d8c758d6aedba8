import { z } from 'zod';
import { configFragment, ConfigError, env, loadConfig } from './index';

const http = configFragment({ FANOUT_PORT: env.port(3002) }, (v) => ({ port: v.FANOUT_PORT }));
const kafka = configFragment({ KAFKA_BROKERS: env.hostPortList() }, (v) => ({
  brokers: v.KAFKA_BROKERS ?? null,
}));
const redis = configFragment(
  { REDIS_URL: env.url(['redis', 'rediss'], 'redis://127.0.0.1:6379') },
  (v) => ({
    url: v.REDIS_URL,
  }),
);
const feature = configFragment(
  { HERALD_HTTPS_ONLY: env.flag(false), HERALD_MODE: env.oneOf(['a', 'b'] as const, 'a') },
  (v) => ({ httpsOnly: v.HERALD_HTTPS_ONLY, mode: v.HERALD_MODE }),
);

describe('loadConfig', () => {
  it('applies defaults and composes fragments into one nested object', () => {
    const config = loadConfig({ http, kafka, redis, feature }, {});
    expect(config).toEqual({
      http: { port: 3002 },
      kafka: { brokers: null },
      redis: { url: 'redis://127.0.0.1:6379' },
      feature: { httpsOnly: false, mode: 'a' },
    });
  });

  it('parses given values', () => {
    const config = loadConfig(
      { http, kafka, feature },
      {
        FANOUT_PORT: '4000',
        KAFKA_BROKERS: 'a:9092, b:9093',
        HERALD_HTTPS_ONLY: 'TRUE',
        HERALD_MODE: 'b',
      },
    );
    expect(config.http.port).toBe(4000);
    expect(config.kafka.brokers).toEqual(['a:9092', 'b:9093']);
    expect(config.feature).toEqual({ httpsOnly: true, mode: 'b' });
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ http }, { FANOUT_PORT: '  ' }).http.port).toBe(3002);
  });

  it('names every bad variable and what it expects', () => {
    let error: unknown;
    try {
      loadConfig(
        { http, redis, feature },
        { FANOUT_PORT: 'eighty', REDIS_URL: 'http://x', HERALD_HTTPS_ONLY: 'maybe' },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('FANOUT_PORT: expected a TCP port number 0-65535');
    expect(message).toContain('"eighty"');
    expect(message).toContain('REDIS_URL: expected a redis or rediss URL');
    expect(message).toContain('HERALD_HTTPS_ONLY: expected true or false');
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual([
      'FANOUT_PORT',
      'HERALD_HTTPS_ONLY',
      'REDIS_URL',
    ]);
  });

  it('says when a required variable is missing', () => {
    const required = configFragment(
      { HERALD_SECRET_KEY: z.string().min(1).describe('a 32-byte key in base64') },
      (v) => v,
    );
    expect(() => loadConfig({ required }, {})).toThrow(
      /HERALD_SECRET_KEY: expected a 32-byte key in base64 .*it is not set/,
    );
  });

  it('rejects a malformed broker list', () => {
    expect(() => loadConfig({ kafka }, { KAFKA_BROKERS: 'localhost' })).toThrow(
      /KAFKA_BROKERS: expected a comma-separated list of host:port/,
    );
  });
});
