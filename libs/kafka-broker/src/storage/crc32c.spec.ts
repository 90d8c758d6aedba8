import { crc32c } from './crc32c';

describe('crc32c', () => {
  it('matches the published CRC-32C check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('gives the same result bytewise, in pieces and over sub-ranges of every alignment', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff));
    const whole = crc32c(data);
    for (const cut of [1, 3, 8, 13, 500, 999]) {
      expect(crc32c(data, cut, data.length, crc32c(data, 0, cut))).toBe(whole);
    }
    for (let start = 0; start < 9; start++) {
      expect(crc32c(data, start, 900)).toBe(crc32c(Buffer.from(data.subarray(start, 900))));
    }
  });
});
