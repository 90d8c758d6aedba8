// The data an HTTP producer sends is the data written to Kafka, character for character: never
// JSON.parse then JSON.stringify (a number past 2^53 lost its last digits, -0 became 0, 1.0 became
// 1, "\u00e9" became "é"), and never bytes that readers may take differently from what was checked
// (an object repeating a member name, a byte order mark), in every form of SPEC §4.
import { startTestBroker, type RunningBroker } from '@herald/kafka/testing';
import { post, recordsById, startIngestApp, topicSize, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(60_000);

let broker: RunningBroker;
let ingest: IngestApp;
let example: Record<string, unknown>;

beforeAll(async () => {
  broker = await startTestBroker();
  ingest = await startIngestApp(broker.brokers);
  example = ingest.contract.get('order.created')!.example as Record<string, unknown>;
});

afterAll(async () => {
  await ingest?.stop();
  await broker?.stop();
});

/**
 * An order.created payload as JSON text that JSON.stringify would not write back the same: an
 * amount past 2^53, -0, 1.0 written with its fraction, a \u escape, spaces after colons.
 */
function orderText(orderId: string): string {
  const base = JSON.stringify({ ...example, orderId });
  const total = '"total": {"amount": 12345678901234567890, "currency": "EUR"}';
  const items =
    '"items": [{"sku": "PIZZA-MARG-30", "name": "Caf\\u00e9 cr\\u00e8me", "quantity": 1.0, "unitPrice": {"amount": -0, "currency": "EUR"}}]';
  return base
    .replace(/"total":\{[^}]*\}/, total)
    .replace(/"items":\[.*?\}\}\]/, items)
    .replace(/\}$/, ' }');
}

describe('the data written is the data sent', () => {
  it('keeps the producer’s digits, -0, 1.0 and escapes in the typed, binary, structured and batch forms', async () => {
    const run = crypto.randomUUID();
    const ids = ['typed', 'binary', 'structured', 'batch-0', 'batch-1'].map((f) => `${run}-${f}`);
    const data = ids.map(() => orderText(crypto.randomUUID()));
    expect(data[0]).toContain('"quantity": 1.0');
    expect(data[0]).toContain('"amount": -0,');
    expect(data[0]).toContain('Caf\\u00e9');
    // The check the contract makes still sees the values: 12345678901234567890 is an integer ≥ 0.
    expect(JSON.parse(data[0]!)).toMatchObject({ total: { amount: 12345678901234567000 } });

    const typed = await post(`${ingest.url}/v1/events/order.created`, `\n ${data[0]} \n`, {
      headers: { 'ce-id': ids[0]! },
    });
    expect(typed.status).toBe(202);
    const binary = await post(`${ingest.url}/v1/events`, data[1], {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': ids[1]!,
        'ce-source': '/as-sent',
        'ce-type': 'order.created',
      },
    });
    expect(binary.status).toBe(202);
    const envelope = (id: string, text: string) =>
      `{"specversion":"1.0","id":"${id}","source":"/as-sent","type":"order.created","data":  ${text}  }`;
    const structured = await post(`${ingest.url}/v1/events`, envelope(ids[2]!, data[2]!), {
      contentType: 'application/cloudevents+json',
    });
    expect(structured.status).toBe(202);
    const batch = await post(
      `${ingest.url}/v1/events`,
      `[${envelope(ids[3]!, data[3]!)},\n${envelope(ids[4]!, data[4]!)}]`,
      { contentType: 'application/cloudevents-batch+json' },
    );
    expect(batch.status).toBe(202);

    const records = await recordsById(broker.brokers, 'orders.v1', ids);
    ids.forEach((id, n) => {
      const value = records.get(id)!.value!.toString('utf8');
      expect(value).toBe(data[n]);
      expect(value).toContain('"amount": 12345678901234567890');
      // The contract key is still read from the parsed value.
      expect(records.get(id)!.key?.toString()).toBe(
        (JSON.parse(data[n]!) as { orderId: string }).orderId,
      );
    });
  });

  it('still checks the contract on the parsed value: a negative amount past 2^53 is refused', async () => {
    const text = orderText(crypto.randomUUID()).replace(
      '12345678901234567890',
      '-12345678901234567890',
    );
    const response = await post(`${ingest.url}/v1/events/order.created`, text);
    expect(response).toMatchObject({
      status: 400,
      body: { errors: [expect.objectContaining({ pointer: '/total/amount' })] },
    });
  });

  it('refuses an object that repeats a member name with 400 naming it, in every form, and writes nothing', async () => {
    const run = crypto.randomUUID();
    const duplicated = JSON.stringify({ ...example, orderId: crypto.randomUUID() }).replace(
      '"email":',
      '"name":"Mallory","email":',
    );
    const sizeBefore = await topicSize(broker.brokers, 'orders.v1');
    const typed = await post(`${ingest.url}/v1/events/order.created`, duplicated, {
      headers: { 'ce-id': `${run}-typed` },
    });
    const structured = await post(
      `${ingest.url}/v1/events`,
      `{"specversion":"1.0","id":"${run}-s","source":"/a","type":"order.created","data":${duplicated}}`,
      { contentType: 'application/cloudevents+json' },
    );
    const batch = await post(
      `${ingest.url}/v1/events`,
      `[{"specversion":"1.0","id":"${run}-b","id":"${run}-c","source":"/a","type":"order.created","data":{}}]`,
      { contentType: 'application/cloudevents-batch+json' },
    );
    const message = expect.stringContaining('repeats a member name');
    expect(typed).toMatchObject({
      status: 400,
      body: { errors: [{ pointer: '/customer/name', message }] },
    });
    expect(structured).toMatchObject({
      status: 400,
      body: { errors: [{ pointer: '/data/customer/name', message }] },
    });
    expect(batch).toMatchObject({ status: 400, body: { errors: [{ pointer: '/0/id', message }] } });
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(sizeBefore);
  });

  it('refuses a body starting with a byte order mark with 400 saying so', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify({ ...example, orderId: crypto.randomUUID() })),
    ]);
    const response = await post(`${ingest.url}/v1/events/order.created`, body);
    expect(response).toMatchObject({
      status: 400,
      body: { errors: [{ pointer: '', message: expect.stringContaining('byte order mark') }] },
    });
  });
});
