import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import {
  invalidUtf8Offset,
  parseBatchArray,
  parseBatchEvents,
  parseBinaryEvent,
  parseJson,
  parseStructuredEvent,
  parseTypedEvent,
} from './cloud-event.parser';
import { InvalidEventError } from './ingest.errors';

describe('parseJson', () => {
  it('refuses a body that is not UTF-8, naming the first bad byte, instead of replacing it', () => {
    const body = Buffer.concat([
      Buffer.from('{"name":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}'),
    ]);
    let thrown: unknown;
    try {
      parseJson(body);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidEventError);
    expect(thrown).toMatchObject({
      message: 'The request body is not valid UTF-8',
      details: { errors: [{ pointer: '', message: 'invalid UTF-8 at byte 12' }] },
    });
  });

  it('reads UTF-8 in every length of sequence', () => {
    expect(parseJson(Buffer.from('{"s":"aé€😀"}'))).toEqual({ s: 'aé€😀' });
  });
});

describe('invalidUtf8Offset', () => {
  it.each([
    ['a lone continuation byte', [0x61, 0x80], 1],
    ['an overlong slash', [0xc0, 0xaf], 0],
    ['an overlong three-byte form', [0xe0, 0x80, 0xaf], 0],
    ['a UTF-16 surrogate', [0x61, 0x62, 0xed, 0xa0, 0x80], 2],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a sequence cut short at the end', [0x61, 0xe2, 0x82], 1],
    ['a sequence cut short by ASCII', [0xe2, 0x41, 0x42], 0],
  ])('finds %s', (_name, bytes, offset) => {
    expect(invalidUtf8Offset(Buffer.from(bytes))).toBe(offset);
  });

  it('agrees with Node on random bytes, and what comes before the offset is UTF-8', () => {
    for (let run = 0; run < 2000; run++) {
      const bytes = randomBytes(1 + (run % 16));
      const offset = invalidUtf8Offset(bytes);
      expect([bytes.toString('hex'), offset === -1]).toEqual([
        bytes.toString('hex'),
        isUtf8(bytes),
      ]);
      if (offset >= 0) expect(isUtf8(bytes.subarray(0, offset))).toBe(true);
    }
  });
});

describe('the data attributes a producer gives', () => {
  const body = Buffer.from('{"orderId":"o-1"}');

  it('carries dataschema and the content type of binary and typed events', () => {
    const headers = {
      'content-type': 'application/vnd.acme.order+json; charset=utf-8',
      'ce-specversion': '1.0',
      'ce-id': 'e-1',
      'ce-source': '/s',
      'ce-type': 'order.created',
      'ce-dataschema': 'https://schemas.acme.test/order/1',
    };
    const expected = {
      dataschema: 'https://schemas.acme.test/order/1',
      datacontenttype: 'application/vnd.acme.order+json; charset=utf-8',
    };
    expect(parseBinaryEvent(body, headers)).toMatchObject(expected);
    expect(parseTypedEvent('order.created', body, headers)).toMatchObject(expected);
  });

  it('carries dataschema and datacontenttype of structured and batched events', () => {
    const event = {
      specversion: '1.0',
      id: 'e-2',
      source: '/s',
      type: 'order.created',
      dataschema: 'https://schemas.acme.test/order/1',
      datacontenttype: 'application/json',
      data: { orderId: 'o-2' },
    };
    const expected = {
      dataschema: 'https://schemas.acme.test/order/1',
      datacontenttype: 'application/json',
    };
    expect(parseStructuredEvent(Buffer.from(JSON.stringify(event)), {})).toMatchObject(expected);
    const [batched] = parseBatchEvents(parseBatchArray(Buffer.from(JSON.stringify([event]))), {});
    expect(batched).toMatchObject(expected);
    const plain = parseStructuredEvent(
      Buffer.from(JSON.stringify({ ...event, dataschema: undefined, datacontenttype: undefined })),
      {},
    );
    expect(plain.dataschema).toBeUndefined();
    expect(plain.datacontenttype).toBeUndefined();
  });

  it.each([
    ['a number', 7],
    ['an empty string', ''],
    ['over 1,024 characters', `https://s.test/${'x'.repeat(1024)}`],
  ])('refuses a dataschema that is %s, naming it', (_what, dataschema) => {
    const event = {
      specversion: '1.0',
      id: 'e-3',
      source: '/s',
      type: 'order.created',
      dataschema,
      data: {},
    };
    let error: unknown;
    try {
      parseStructuredEvent(Buffer.from(JSON.stringify(event)), {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidEventError);
    const { errors } = (error as InvalidEventError).details as { errors: { pointer: string }[] };
    expect(errors.map((v) => v.pointer)).toEqual(['/dataschema']);
  });
});
