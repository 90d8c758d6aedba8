import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { waitFor } from '@herald/kafka/testing';
import { EventLedger } from './event-ledger';
import {
  SseStreamClient,
  WsStreamClient,
  type StreamClient,
  type StreamClientOptions,
} from './stream-clients';

/**
 * The chaos runner's stream clients against a real HTTP and WebSocket server that plays fanout's
 * part of each scripted connection: how each end reason is counted, and which ones are resumed.
 */

type SseScript = (request: IncomingMessage, response: ServerResponse) => void;
type WsScript = (socket: WebSocket, subscribe: Record<string, unknown>) => void;
/** Refuses the upgrade with this status instead of accepting it. */
type UpgradeScript = WsScript | { refuse: number };

const END_MESSAGES: Record<string, string> = {
  slow_consumer: 'The client read too slowly; resume from the cursor',
  shutdown: 'This server is shutting down; resume from the cursor',
  key_deleted: 'The API key of this stream was deleted',
};

function endData(reason: string, cursor: string): string {
  const message = END_MESSAGES[reason];
  return JSON.stringify({ reason, cursor, ...(message === undefined ? {} : { message }) });
}

function sseEvent(cursor: string, id: string): string {
  return `id: ${cursor}\nevent: order.created\ndata: {"id":"${id}","type":"order.created"}\n\n`;
}

function sseEnd(reason: string, cursor: string): string {
  return `id: ${cursor}\nevent: herald.stream.end\ndata: ${endData(reason, cursor)}\n\n`;
}

/** Ends a WebSocket stream as fanout does: the end message, then the close with its code. */
function wsEnd(socket: WebSocket, reason: string, cursor: string, code: number): void {
  socket.send(JSON.stringify({ op: 'end', ...(JSON.parse(endData(reason, cursor)) as object) }));
  socket.close(code, reason);
}

/** A fanout stand-in: each SSE request and WebSocket upgrade gets the next script of its kind. */
async function startFakeFanout(sse: SseScript[], ws: UpgradeScript[]) {
  const seen = {
    sse: [] as IncomingMessage[],
    upgrades: 0,
    subscribes: [] as Record<string, unknown>[],
  };
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((request, response) => {
    seen.sse.push(request);
    const script = sse[seen.sse.length - 1];
    if (script === undefined) {
      response.writeHead(410).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    script(request, response);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    seen.upgrades += 1;
    const script = ws[seen.upgrades - 1] ?? { refuse: 410 };
    if ('refuse' in script) {
      socket.end(
        `HTTP/1.1 ${script.refuse} Refused\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (client) => {
      client.once('message', (data: Buffer) => {
        const subscribe = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        seen.subscribes.push(subscribe);
        script(client, subscribe);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type FakeFanout = Awaited<ReturnType<typeof startFakeFanout>>;

describe('the chaos stream clients', () => {
  let fanout: FakeFanout | undefined;
  let client: StreamClient | undefined;

  afterEach(async () => {
    client?.close();
    await fanout?.close();
    client = undefined;
    fanout = undefined;
  });

  function open(Client: typeof SseStreamClient | typeof WsStreamClient, url: string): StreamClient {
    const options: StreamClientOptions = {
      name: 'test',
      tenant: 'acme',
      key: 'hk_test',
      types: ['order.*'],
      catalogTypes: ['order.created'],
      fanoutUrl: () => url,
      ledger: new EventLedger('run', 1, 1),
    };
    client = new Client(options);
    client.open();
    return client;
  }

  /** Fanout's reasons that connecting again cannot mend, and those it resumes from. */
  const finalReasons = [
    'key_deleted',
    'subscription_deleted',
    'subscription_paused',
    'subscription_disabled',
  ];
  const resumedReasons = ['slow_consumer', 'shutdown', 'server_error', 'subscription_changed'];

  describe('SSE', () => {
    it.each(finalReasons)('counts %s and stops there, without connecting again', async (reason) => {
      fanout = await startFakeFanout(
        [(_, response) => response.end(sseEvent('c1', 'e1') + sseEnd(reason, 'c1'))],
        [],
      );
      const sse = open(SseStreamClient, fanout.url);

      await waitFor(() => sse.stoppedBy, { what: `the client stopped by ${reason}` });

      expect(sse.stoppedBy).toBe(reason);
      expect(Object.fromEntries(sse.ends)).toEqual({ [reason]: 1 });
      expect(sse.reconnects).toBe(0);
      expect(sse.received).toBe(1);
      expect(fanout.seen.sse).toHaveLength(1);
    });

    it.each(resumedReasons)(
      'counts %s and resumes from the cursor the end names',
      async (reason) => {
        fanout = await startFakeFanout(
          [
            (_, response) => response.end(sseEvent('c1', 'e1') + sseEnd(reason, 'c2')),
            (_, response) => response.end(sseEnd('key_deleted', 'c2')),
          ],
          [],
        );
        const sse = open(SseStreamClient, fanout.url);

        await waitFor(() => sse.stoppedBy, { what: 'the second stream ended' });

        expect(fanout.seen.sse).toHaveLength(2);
        expect(fanout.seen.sse[1]!.headers['last-event-id']).toBe('c2');
        expect(Object.fromEntries(sse.ends)).toEqual({ [reason]: 1, key_deleted: 1 });
        expect(sse.reconnects).toBe(1);
        expect(sse.opens).toBe(2);
      },
    );
  });

  describe('WebSocket', () => {
    const closeCode = (reason: string) =>
      reason === 'subscription_changed'
        ? 1012
        : reason === 'shutdown'
          ? 1001
          : reason === 'server_error'
            ? 1011
            : 1008;

    /** Subscribed, one event, then the end for `reason`. */
    const streamThenEnd =
      (reason: string, cursor: string): WsScript =>
      (socket) => {
        socket.send(JSON.stringify({ op: 'subscribed', subscription: null }));
        socket.send(
          JSON.stringify({ op: 'event', cursor: 'c1', event: { id: 'e1', type: 'order.created' } }),
        );
        wsEnd(socket, reason, cursor, closeCode(reason));
      };

    it.each(finalReasons)('counts %s and stops there, without connecting again', async (reason) => {
      fanout = await startFakeFanout([], [streamThenEnd(reason, 'c1')]);
      const ws = open(WsStreamClient, fanout.url);

      await waitFor(() => ws.stoppedBy, { what: `the client stopped by ${reason}` });

      expect(Object.fromEntries(ws.ends)).toEqual({ [reason]: 1 });
      expect(ws.reconnects).toBe(0);
      expect(ws.received).toBe(1);
      expect(fanout.seen.upgrades).toBe(1);
    });

    it.each(resumedReasons)(
      'counts %s and subscribes again from the cursor the end names',
      async (reason) => {
        fanout = await startFakeFanout(
          [],
          [streamThenEnd(reason, 'c2'), streamThenEnd('key_deleted', 'c3')],
        );
        const ws = open(WsStreamClient, fanout.url);

        await waitFor(() => ws.stoppedBy, { what: 'the second stream ended' });

        expect(fanout.seen.subscribes.map((s) => s.cursor ?? s.from)).toEqual(['earliest', 'c2']);
        expect(Object.fromEntries(ws.ends)).toEqual({ [reason]: 1, key_deleted: 1 });
        expect(ws.reconnects).toBe(1);
      },
    );

    it('counts a socket closed before it subscribed by its close reason (subscribe_timeout), and subscribes again', async () => {
      fanout = await startFakeFanout(
        [],
        [
          (socket) => {
            socket.send(
              JSON.stringify({ op: 'error', code: 'streams.subscribe_timeout', status: 408 }),
            );
            socket.close(1008, 'subscribe_timeout');
          },
          streamThenEnd('shutdown', 'c2'),
          (socket) => {
            // A key deleted before the socket subscribed: an error, and the reason in the close.
            socket.send(JSON.stringify({ op: 'error', code: 'auth.unauthenticated', status: 401 }));
            socket.close(1008, 'key_deleted');
          },
        ],
      );
      const ws = open(WsStreamClient, fanout.url);

      await waitFor(() => ws.stoppedBy, { what: 'the client stopped' });

      expect(Object.fromEntries(ws.ends)).toEqual({
        subscribe_timeout: 1,
        shutdown: 1,
        key_deleted: 1,
      });
      expect(fanout.seen.upgrades).toBe(3);
      expect(ws.reconnects).toBe(2);
    });

    it('tries again when the upgrade is refused with a 503, and gives up at a 4xx', async () => {
      fanout = await startFakeFanout([], [{ refuse: 503 }, { refuse: 401 }]);
      const ws = open(WsStreamClient, fanout.url);

      await waitFor(() => ws.refused, { what: 'the client refused' });

      expect(ws.refused).toBe('401 Refused');
      expect(fanout.seen.upgrades).toBe(2);
      expect(ws.reconnects).toBe(1);
      expect(ws.ends.size).toBe(0);
    });
  });
});
