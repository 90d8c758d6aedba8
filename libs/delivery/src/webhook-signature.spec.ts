import { Webhook } from 'standardwebhooks';
import { InvalidSecretError } from './delivery.errors';
import {
  decodeSecret,
  generateSecret,
  signWebhook,
  verifyWebhookSignature,
  webhookSignatureHeader,
  webhookTimestamp,
} from './webhook-signature';

const body = JSON.stringify({
  type: 'order.created',
  data: { id: 'o-1', total: 12.5, note: 'naïve ✓' },
});
const id = 'evt_01J8ZP7Q3';

function headersFor(secrets: string[], timestamp = webhookTimestamp(Date.now())) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignatureHeader({ id, timestamp, body }, secrets),
  };
}

describe('Standard Webhooks signatures', () => {
  it('verify with the standardwebhooks package', () => {
    const secret = generateSecret();
    const payload = new Webhook(secret).verify(body, headersFor([secret]));
    expect(payload).toEqual(JSON.parse(body));
  });

  it('carry one signature per live secret during a rotation, each verifiable', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const headers = headersFor([newSecret, oldSecret]);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=* v1,[A-Za-z0-9+/]+=*$/);
    expect(() => new Webhook(oldSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('match the standardwebhooks reference signer byte for byte', () => {
    const secret = generateSecret();
    const timestamp = 1_700_000_000;
    expect(signWebhook({ id, timestamp, body }, secret)).toBe(
      new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
    );
  });

  it('sign raw bytes exactly as the equivalent string', () => {
    const secret = generateSecret();
    const content = { id, timestamp: 1_700_000_000, body };
    expect(signWebhook({ ...content, body: Buffer.from(body) }, secret)).toBe(
      signWebhook(content, secret),
    );
  });

  it('fail verification when the body, id or timestamp is altered', () => {
    const secret = generateSecret();
    const nowMs = 1_700_000_000_000;
    const timestamp = webhookTimestamp(nowMs);
    const header = webhookSignatureHeader({ id, timestamp, body }, [secret]);
    const verify = (changes: Partial<{ id: string; timestamp: number; body: string }>) =>
      verifyWebhookSignature({ id, timestamp, body, ...changes }, header, secret, { nowMs });
    expect(verify({})).toBe(true);
    expect(verify({ body: `${body} ` })).toBe(false);
    expect(verify({ id: 'evt_other' })).toBe(false);
    expect(verify({ timestamp: timestamp + 1 })).toBe(false);
    expect(
      verifyWebhookSignature({ id, timestamp, body }, header, generateSecret(), { nowMs }),
    ).toBe(false);
  });

  it('verify either of two signatures and refuse stale timestamps', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    const timestamp = 1_700_000_000;
    const header = webhookSignatureHeader({ id, timestamp, body }, [a, b]);
    const at = (seconds: number) => ({ nowMs: seconds * 1000 });
    expect(verifyWebhookSignature({ id, timestamp, body }, header, a, at(timestamp))).toBe(true);
    expect(verifyWebhookSignature({ id, timestamp, body }, header, b, at(timestamp + 300))).toBe(
      true,
    );
    expect(verifyWebhookSignature({ id, timestamp, body }, header, b, at(timestamp + 301))).toBe(
      false,
    );
    expect(verifyWebhookSignature({ id, timestamp, body }, header, a, at(timestamp - 301))).toBe(
      false,
    );
    expect(verifyWebhookSignature({ id, timestamp, body }, 'v2,abc v1,', a, at(timestamp))).toBe(
      false,
    );
  });

  it('generate secrets of at least 24 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(decodeSecret(secret)).toHaveLength(32);
    expect(decodeSecret(generateSecret(24))).toHaveLength(24);
    expect(generateSecret()).not.toBe(secret);
    expect(() => generateSecret(16)).toThrow(InvalidSecretError);
  });

  it.each(['', 'secret', 'whsec_', 'whsec_not base64!', 'whsec_abc'])(
    'refuse the malformed secret %p',
    (secret) => {
      expect(() => signWebhook({ id, timestamp: 1, body }, secret)).toThrow(InvalidSecretError);
    },
  );

  it('need at least one secret', () => {
    expect(() => webhookSignatureHeader({ id, timestamp: 1, body }, [])).toThrow(
      'at least one signing secret',
    );
  });
});
