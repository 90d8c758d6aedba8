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

  it('trims values: a key read from a file keeps no trailing newline', () => {
    const auth = configFragment({ HERALD_ADMIN_KEY: env.secret(16) }, (v) => v.HERALD_ADMIN_KEY);
    const config = loadConfig(
      { auth, feature },
      { HERALD_ADMIN_KEY: '0123456789abcdef\n', HERALD_HTTPS_ONLY: 'true ', HERALD_MODE: ' b' },
    );
    expect(config.auth).toBe('0123456789abcdef');
    expect(config.feature).toEqual({ httpsOnly: true, mode: 'b' });
  });

  it('takes a choice in any letter case', () => {
    expect(loadConfig({ feature }, { HERALD_MODE: 'B' }).feature.mode).toBe('b');
  });

  it('refuses whole numbers above 2^31 - 1 unless the setting allows more', () => {
    const timeouts = configFragment(
      {
        SHUTDOWN_TIMEOUT_MS: env.positiveInt(10_000, 'milliseconds'),
        LINGER_MS: env.nonNegativeInt(0, 'milliseconds'),
        DISABLE_AFTER_MS: env.positiveInt(1000, 'milliseconds', { max: Number.MAX_SAFE_INTEGER }),
      },
      (v) => v,
    );
    expect(() =>
      loadConfig({ timeouts }, { SHUTDOWN_TIMEOUT_MS: '3000000000', LINGER_MS: '2147483648' }),
    ).toThrow(
      /SHUTDOWN_TIMEOUT_MS: expected a positive whole number of milliseconds, at most 2147483647 .*more than 2147483647; got "3000000000"[\s\S]*LINGER_MS: expected a whole number >= 0 of milliseconds, at most 2147483647/,
    );
    expect(
      loadConfig(
        { timeouts },
        { SHUTDOWN_TIMEOUT_MS: '2147483647', DISABLE_AFTER_MS: '2592000000' },
      ).timeouts,
    ).toEqual({ SHUTDOWN_TIMEOUT_MS: 2147483647, LINGER_MS: 0, DISABLE_AFTER_MS: 2592000000 });
  });

  it('never prints a secret, nor the credentials in a URL', () => {
    const secrets = configFragment(
      {
        HERALD_ADMIN_KEY: env.secret(16),
        HERALD_SECRET_KEY: z.string().length(44).describe('32 bytes in base64'),
        HERALD_RATE_PER_KEY: env.positiveInt(10, 'events per second'),
        // A complaint that quotes the value it got.
        HERALD_PARTNER_TOKEN: z
          .string()
          .refine((v) => v.startsWith('tok_'), { error: (i) => `${String(i.input)} lacks tok_` })
          .describe('a partner token (tok_…)'),
      },
      (v) => v,
    );
    let error: unknown;
    try {
      loadConfig(
        { secrets, redis },
        {
          HERALD_ADMIN_KEY: 'short-admin-key',
          HERALD_SECRET_KEY: 'c2VjcmV0LWtleS10aGF0LWlzLW5vdC0zMi1ieXRlcw',
          HERALD_RATE_PER_KEY: 'ten',
          HERALD_PARTNER_TOKEN: 'hunter4',
          REDIS_URL: 'http://herald:hunter2@redis:6379/0?password=hunter3',
        },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message, issues } = error as ConfigError;
    for (const printed of [message, JSON.stringify(issues)]) {
      expect(printed).not.toContain('short-admin-key');
      expect(printed).not.toContain('c2VjcmV0');
      expect(printed).not.toContain('hunter');
    }
    expect(message).toContain(
      'HERALD_ADMIN_KEY: expected a secret of at least 16 characters (Too small: expected string to have >=16 characters; got 15 characters, not shown',
    );
    expect(message).toContain('HERALD_SECRET_KEY: expected 32 bytes in base64');
    expect(message).toContain('got 42 characters, not shown');
    // A limit per key is not a key: its value is shown.
    expect(message).toContain('HERALD_RATE_PER_KEY: expected a positive whole number');
    expect(message).toContain('got "ten"');
    expect(message).toContain('got "http://***@redis:6379/0?password=***"');
    expect(message).toContain(
      'HERALD_PARTNER_TOKEN: expected a partner token (tok_…) (*** lacks tok_; got 7 characters',
    );
  });

  it('keeps the description of a helper made optional afterwards', () => {
    const tracing = configFragment(
      { OTLP_ENDPOINT: env.url(['http', 'https']).optional() },
      (v) => v,
    );
    expect(() => loadConfig({ tracing }, { OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTLP_ENDPOINT: expected a http or https URL \(not a http\/https URL; got "collector:4318"\)/,
    );
  });
});
