// A partition key taken from a JSON number is the number as the producer wrote it, in every
// HTTP form and through the bridge: read back as a double, ids past 2^53 that differ only past
// their 16th digit shared one key (`12345678901234567000`), coupling unrelated entities' order,
// and no key was the id the producer sent.
import { resolve } from 'node:path';
import { loadContract } from '@herald/contract';
import { createTestConnection, startTestBroker, type RunningBroker } from '@herald/kafka/testing';
import { post, recordsById, startIngestApp, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(60_000);

const CHANNEL = 'ledger.v1';
const SOURCE = 'ledger.raw';
const TYPE = 'ledger.entry.posted';
/** Two account ids JSON.parse reads as the same double, 12345678901234567168. */
const ACCOUNTS = ['12345678901234567890', '12345678901234567891'] as const;

let broker: RunningBroker;
let ingest: IngestApp;

beforeAll(async () => {
  broker = await startTestBroker();
  const ledger = await loadContract(resolve(__dirname, 'fixtures/numeric-key-contract'));
  ingest = await startIngestApp(broker.brokers, {}, ledger);
});

afterAll(async () => {
  await ingest?.stop();
  await broker?.stop();
});

/** A ledger.entry.posted payload keyed by `account`, written as a bare JSON number. */
function entryText(account: string): string {
  return `{"amount": 1.0, "account": {"id": ${account}}}`;
}

describe('a numeric partition key', () => {
  it('is the producer’s number as written in the typed, binary, structured and batch forms and on the bridge', async () => {
    expect(JSON.parse(entryText(ACCOUNTS[0])) as unknown).toEqual(
      JSON.parse(entryText(ACCOUNTS[1])) as unknown,
    );
    const run = crypto.randomUUID();
    const forms = ['typed', 'binary', 'structured', 'batch', 'bridge'];
    // Per form, one event of each account: `<run>-<form>-<n>` is keyed by ACCOUNTS[n].
    const id = (form: string, n: number) => `${run}-${form}-${n}`;

    for (const n of [0, 1]) {
      const typed = await post(`${ingest.url}/v1/events/${TYPE}`, entryText(ACCOUNTS[n]!), {
        headers: { 'ce-id': id('typed', n) },
      });
      expect(typed.status).toBe(202);
      const binary = await post(`${ingest.url}/v1/events`, entryText(ACCOUNTS[n]!), {
        headers: {
          'ce-specversion': '1.0',
          'ce-id': id('binary', n),
          'ce-source': '/numeric-key',
          'ce-type': TYPE,
        },
      });
      expect(binary.status).toBe(202);
    }
    const envelope = (eventId: string, text: string) =>
      `{"specversion":"1.0","id":"${eventId}","source":"/numeric-key","type":"${TYPE}","data": ${text}}`;
    for (const n of [0, 1]) {
      const structured = await post(
        `${ingest.url}/v1/events`,
        envelope(id('structured', n), entryText(ACCOUNTS[n]!)),
        { contentType: 'application/cloudevents+json' },
      );
      expect(structured.status).toBe(202);
    }
    const batch = await post(
      `${ingest.url}/v1/events`,
      `[${[0, 1].map((n) => envelope(id('batch', n), entryText(ACCOUNTS[n]!))).join(',')}]`,
      { contentType: 'application/cloudevents-batch+json' },
    );
    expect(batch.status).toBe(202);

    // Raw records without a key of their own: the bridge keys them by the contract's pointer.
    const producer = createTestConnection(broker.brokers).kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: SOURCE,
        acks: -1,
        messages: [0, 1].map((n) => ({
          value: entryText(ACCOUNTS[n]!),
          headers: { ce_type: TYPE, ce_id: id('bridge', n) },
        })),
      });
    } finally {
      await producer.disconnect();
    }

    const ids = forms.flatMap((form) => [id(form, 0), id(form, 1)]);
    const records = await recordsById(broker.brokers, CHANNEL, ids);
    const keys = forms.map((form) => [
      form,
      records.get(id(form, 0))!.key?.toString(),
      records.get(id(form, 1))!.key?.toString(),
    ]);
    expect(keys).toEqual(forms.map((form) => [form, ...ACCOUNTS]));
    // The value is the producer's text too, as before.
    expect(records.get(id('bridge', 1))!.value!.toString()).toBe(entryText(ACCOUNTS[1]));
  });
});
