import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { invalidUtf8Offset, parseJson } from './cloud-event.parser';
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
