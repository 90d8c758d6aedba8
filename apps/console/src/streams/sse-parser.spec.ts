import { SseParser } from './sse-parser';

describe('SseParser', () => {
  it('reads messages cut anywhere, with ids, event types, comments and multi-line data', () => {
    const text =
      ': connected\n\nid: c1\nevent: order.created\ndata: {"id":"1"}\n\n: heartbeat\n\r\nid: c2\r\nevent: order.paid\r\ndata: line one\r\ndata: line two\r\n\r\nevent: herald.stream.end\ndata: {"reason":"slow_consumer"}\n\n';
    for (const size of [1, 2, 3, 7, text.length]) {
      const parser = new SseParser();
      const messages = [];
      for (let i = 0; i < text.length; i += size)
        messages.push(...parser.push(text.slice(i, i + size)));
      expect(messages).toEqual([
        { id: 'c1', event: 'order.created', data: '{"id":"1"}' },
        { id: 'c2', event: 'order.paid', data: 'line one\nline two' },
        { id: 'c2', event: 'herald.stream.end', data: '{"reason":"slow_consumer"}' },
      ]);
    }
  });
});
