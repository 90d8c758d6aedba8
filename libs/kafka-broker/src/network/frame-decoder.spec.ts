import { FrameDecoder, FrameSizeError } from './frame-decoder';

function framed(...bodies: Buffer[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((body) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      return [size, body];
    }),
  );
}

describe('FrameDecoder', () => {
  const a = Buffer.from('0123456789');
  const b = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  const stream = framed(a, b);

  it.each(Array.from({ length: stream.length + 1 }, (_, i) => i))(
    'reassembles frames split at byte %i',
    (cut) => {
      const decoder = new FrameDecoder(1024);
      const frames: Buffer[] = [];
      for (const chunk of [stream.subarray(0, cut), stream.subarray(cut)]) {
        decoder.push(chunk);
        for (let f = decoder.next(); f; f = decoder.next()) frames.push(Buffer.from(f));
      }
      expect(frames).toEqual([a, b]);
      expect(decoder.bufferedBytes).toBe(0);
    },
  );

  it('reassembles frames arriving one byte at a time', () => {
    const decoder = new FrameDecoder(1024);
    const frames: Buffer[] = [];
    for (const byte of stream) {
      decoder.push(Buffer.from([byte]));
      for (let f = decoder.next(); f; f = decoder.next()) frames.push(Buffer.from(f));
    }
    expect(frames).toEqual([a, b]);
  });

  it('holds a frame once one is whole, or once its size prefix is one it refuses', () => {
    const decoder = new FrameDecoder(1024);
    const held: boolean[] = [];
    for (const byte of framed(a)) {
      decoder.push(Buffer.from([byte]));
      held.push(decoder.holdsFrame);
    }
    expect(held.indexOf(true)).toBe(4 + a.length - 1);
    decoder.next();
    expect(decoder.holdsFrame).toBe(false);
    decoder.push(Buffer.from([0, 0, 4, 1]));
    expect(decoder.holdsFrame).toBe(true);
  });

  it.each([-1, 0, 1025])('refuses a size prefix of %i', (size) => {
    const decoder = new FrameDecoder(1024);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    decoder.push(prefix);
    expect(() => decoder.next()).toThrow(FrameSizeError);
  });
});
