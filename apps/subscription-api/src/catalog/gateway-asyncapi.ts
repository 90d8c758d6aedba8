import type { ContractRegistry, EventType } from '@herald/contract';
import { tmfEventType } from '@herald/delivery';

type Json = Record<string, unknown>;

/** The catalog entry of one event type (`GET /v1/event-types`). */
export function eventTypeEntry(eventType: EventType) {
  return {
    type: eventType.type,
    tmfEventType: tmfEventType(eventType.type),
    channel: eventType.channel,
    topic: eventType.topic,
    title: eventType.title ?? null,
    summary: eventType.summary ?? null,
    description: eventType.description ?? null,
    key: eventType.keyPointer ?? null,
    internal: eventType.internal,
    schema: eventType.schema,
    example: eventType.example ?? null,
  };
}

const ref = (path: string) => ({ $ref: path });

function componentMessage(eventType: EventType): Json {
  return {
    name: eventType.type,
    ...(eventType.title === undefined ? {} : { title: eventType.title }),
    ...(eventType.summary === undefined ? {} : { summary: eventType.summary }),
    ...(eventType.description === undefined ? {} : { description: eventType.description }),
    contentType: 'application/json',
    payload: eventType.schema,
    ...(eventType.example === undefined
      ? {}
      : { examples: [{ name: 'example', payload: eventType.example }] }),
    'x-herald-topic': eventType.topic,
    'x-herald-tmf-event-type': tmfEventType(eventType.type),
    ...(eventType.keyPointer === undefined ? {} : { 'x-herald-key': eventType.keyPointer }),
  };
}

/** Channel ids must be unique; two documents could both name a channel `orders`. */
function channelIds(contract: ContractRegistry): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>(['webhook', 'sse', 'websocket', 'poll']);
  for (const topic of contract.topics()) {
    let id = topic.channel.replace(/[^A-Za-z0-9_.-]/g, '_');
    if (used.has(id)) id = topic.topic.replace(/[^A-Za-z0-9_-]/g, '_');
    used.add(id);
    ids.set(topic.topic, id);
  }
  return ids;
}

const WEBHOOK_DESCRIPTION = `Herald POSTs each matching event to the subscription's URL.

Body by the subscription's \`format\`: \`cloudevents\` — a structured CloudEvent (application/cloudevents+json) whose \`data\` is the payload below; \`standard\` — \`{type, timestamp, data}\`; \`tmf688\` — \`{eventId, eventTime, eventType, event}\` with the TMF event name.

Headers: \`webhook-id\` (the event id, the same on every retry), \`webhook-timestamp\`, \`webhook-signature\` (Standard Webhooks: \`v1,<base64 HMAC-SHA256 of id.timestamp.body>\`, two space-separated signatures while a rotated secret is in its grace period), \`herald-subscription\`, \`herald-attempt\`, \`herald-replay: true\` on replays, plus the subscription's own headers and auth.

Answer 2xx to acknowledge. 3xx and other statuses are retried on the subscription's schedule, 429 and 503 honour Retry-After, 410 disables the subscription. Events with the same key arrive one at a time, in order (ordering: key).`;

const SSE_DESCRIPTION = `\`GET /v1/streams/sse?types=…&filter=…&from=…\` with a key holding streams:read (Authorization: Bearer, or ?access_token= for EventSource). Each message has \`id:\` an opaque cursor, \`event:\` the event type and \`data:\` the CloudEvent as structured JSON whose \`data\` is the payload below. Reconnect with Last-Event-ID (or ?cursor=) to resume right after it. Comment lines are heartbeats. When the server ends the stream it sends a last \`herald.stream.end\` event whose id is the cursor to resume from and whose data is \`{reason, cursor, message}\` (reasons as the WebSocket end message's): slow_consumer, shutdown, server_error, key_deleted (the key was deleted), subscription_deleted, subscription_paused, subscription_disabled, or subscription_changed (the durable subscription's types or filter changed: reconnect to stream with them). A cursor past the end of the log resumes at the end. A cursor older than what Kafka still holds (retention removed the records after it) resumes at the oldest record held, after a \`herald.stream.gap\` event whose id is the cursor past the gap and whose data is \`{topic, partition, requestedOffset, resumedOffset, skipped, cursor}\` (offsets as decimal strings; skipped: offsets skipped, at most that many records of any type), one per partition skipped, before the next event.`;

const WS_DESCRIPTION = `\`GET /v1/streams/ws\` (or \`?subscription={id}\` for a durable stream subscription, which starts streaming at once), then JSON messages: the client sends \`subscribe\` (and \`ack\` for durable stream subscriptions); the server answers \`subscribed\` and \`acked\`, sends \`event\` with a cursor and the CloudEvent, \`gap\` before the next event when records after the client's cursor are no longer held by Kafka (retention) and were skipped, \`error\` for a message it cannot act on (the socket stays open), and \`end\` with the cursor to resume from before it closes the socket (close 1008, 1012 for subscription_changed: reconnect for the new types and filter, 1001 on shutdown). The key, its scope and its stream limit are checked before the upgrade: a refusal is a plain HTTP problem (401, 403, 404, 429, or 503 while streams start or the server shuts down). Every socket counts against its key's stream limit from the upgrade on; one that has not subscribed within 30 s (STREAM_WS_SUBSCRIBE_TIMEOUT_MS) gets an \`error\` with code streams.subscribe_timeout and is closed (1008). Replies share the send buffer with events: a client that does not read them is not read from, and is closed (1008 slow_consumer) when they still pile up. An idle socket is pinged every STREAM_HEARTBEAT_MS (15 s); one that has answered neither of its last two pings by the next heartbeat is taken for dead and ended (1001 unresponsive).`;

const cloudEventEnvelope: Json = {
  type: 'object',
  required: ['specversion', 'id', 'source', 'type', 'time'],
  properties: {
    specversion: { type: 'string', const: '1.0' },
    id: { type: 'string' },
    source: { type: 'string' },
    type: { type: 'string', description: 'The event type (see the channels).' },
    time: { type: 'string', format: 'date-time' },
    subject: { type: 'string' },
    datacontenttype: { type: 'string' },
    traceparent: { type: 'string' },
    data: { description: 'The payload of the event type.' },
  },
};

/**
 * The contract partners code against: every channel and event type of the loaded AsyncAPI
 * documents, merged into one AsyncAPI 3.0 document, plus Herald's own outbound interfaces —
 * the webhook POST, the SSE stream and the WebSocket protocol — as channels and operations.
 */
export function buildGatewayAsyncApi(contract: ContractRegistry, version: string): Json {
  const ids = channelIds(contract);
  const types = contract.eventTypes().map((type) => contract.get(type)!);
  const messages: Json = Object.fromEntries(types.map((t) => [t.type, componentMessage(t)]));
  const allMessages = () =>
    Object.fromEntries(types.map((t) => [t.type, ref(`#/components/messages/${t.type}`)]));
  const channelMessages = (channel: string) =>
    types.map((t) => ref(`#/channels/${channel}/messages/${t.type}`));

  const channels: Json = {};
  const operations: Json = {};
  for (const topic of contract.topics()) {
    const id = ids.get(topic.topic)!;
    channels[id] = {
      address: topic.topic,
      title: topic.channel,
      description: `Kafka topic ${topic.topic} (${topic.partitions} partitions), CloudEvents binary mode: the record value is the payload, attributes are ce_* headers, the key is the partition key.`,
      servers: [ref('#/servers/kafka')],
      messages: Object.fromEntries(
        topic.types.map((type) => [type, ref(`#/components/messages/${type}`)]),
      ),
      bindings: {
        kafka: { topic: topic.topic, partitions: topic.partitions, bindingVersion: '0.5.0' },
      },
    };
    operations[`consume_${id}`] = {
      action: 'receive',
      title: `Herald reads ${topic.topic}`,
      summary: 'Herald validates these events and fans them out to webhooks and streams.',
      channel: ref(`#/channels/${id}`),
      messages: topic.types.map((type) => ref(`#/channels/${id}/messages/${type}`)),
    };
  }

  channels['webhook'] = {
    address: '{subscriptionUrl}',
    title: 'Webhook deliveries',
    description: WEBHOOK_DESCRIPTION,
    servers: [ref('#/servers/subscriber')],
    parameters: {
      subscriptionUrl: { description: 'The url of the webhook subscription.' },
    },
    messages: allMessages(),
  };
  channels['sse'] = {
    address: '/v1/streams/sse',
    title: 'Server-Sent Events stream',
    description: SSE_DESCRIPTION,
    servers: [ref('#/servers/herald')],
    messages: allMessages(),
  };
  channels['websocket'] = {
    address: '/v1/streams/ws',
    title: 'WebSocket stream',
    description: WS_DESCRIPTION,
    servers: [ref('#/servers/herald')],
    messages: {
      subscribe: ref('#/components/messages/wsSubscribe'),
      ack: ref('#/components/messages/wsAck'),
      event: ref('#/components/messages/wsEvent'),
      subscribed: ref('#/components/messages/wsSubscribed'),
      acked: ref('#/components/messages/wsAcked'),
      error: ref('#/components/messages/wsError'),
      gap: ref('#/components/messages/wsGap'),
      end: ref('#/components/messages/wsEnd'),
    },
    bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } },
  };
  operations['deliverWebhook'] = {
    action: 'send',
    title: 'Herald POSTs events to webhook subscriptions',
    channel: ref('#/channels/webhook'),
    messages: channelMessages('webhook'),
    bindings: { http: { method: 'POST', bindingVersion: '0.3.0' } },
  };
  operations['streamServerSentEvents'] = {
    action: 'send',
    title: 'Herald streams events over SSE',
    channel: ref('#/channels/sse'),
    messages: channelMessages('sse'),
  };
  operations['streamWebSocketEvents'] = {
    action: 'send',
    title: 'Herald sends events over the WebSocket',
    channel: ref('#/channels/websocket'),
    messages: [
      ref('#/channels/websocket/messages/event'),
      ref('#/channels/websocket/messages/subscribed'),
      ref('#/channels/websocket/messages/acked'),
      ref('#/channels/websocket/messages/error'),
      ref('#/channels/websocket/messages/gap'),
      ref('#/channels/websocket/messages/end'),
    ],
  };
  operations['receiveWebSocketCommands'] = {
    action: 'receive',
    title: 'Herald takes subscribe and ack messages',
    channel: ref('#/channels/websocket'),
    messages: [
      ref('#/channels/websocket/messages/subscribe'),
      ref('#/channels/websocket/messages/ack'),
    ],
  };

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Herald event gateway',
      version,
      description:
        'Every event type Herald carries, the Kafka topics they live on, and how Herald hands them to subscribers: webhooks, Server-Sent Events and WebSocket. Subscribe with the REST API (see /openapi.json).',
    },
    defaultContentType: 'application/json',
    servers: {
      kafka: {
        host: '{bootstrap}',
        protocol: 'kafka',
        description: 'The Kafka cluster holding the channel topics.',
        variables: { bootstrap: { default: 'localhost:9092' } },
      },
      herald: {
        host: '{host}',
        protocol: 'https',
        description: "Herald's stream endpoints (fanout).",
        variables: { host: { default: 'localhost:3002' } },
      },
      subscriber: {
        host: '{subscriberHost}',
        protocol: 'https',
        description: 'Your webhook endpoint.',
        variables: { subscriberHost: { default: 'example.com' } },
      },
    },
    channels,
    operations,
    components: {
      messages: {
        ...messages,
        wsSubscribe: {
          name: 'subscribe',
          title: 'Subscribe',
          payload: {
            type: 'object',
            required: ['op'],
            properties: {
              op: { type: 'string', const: 'subscribe' },
              types: { type: 'array', items: { type: 'string' } },
              filter: { type: 'object' },
              from: {
                type: 'string',
                description: 'latest (the default), earliest or an RFC 3339 time',
              },
              cursor: {
                type: 'string',
                description:
                  'Resume right after this cursor (from an event or an end message); wins over from. With subscription it also acknowledges it.',
              },
              subscription: {
                type: 'string',
                description:
                  'A durable stream subscription id: its types and filter apply (send no types or filter); it resumes after the last acknowledged cursor',
              },
            },
          },
        },
        wsAck: {
          name: 'ack',
          title: 'Acknowledge',
          summary:
            "Stores the cursor of a durable stream subscription. Every ack gets one reply, in the order sent. A socket writes one ack at a time: one sent while another is being written waits, and a newer one takes its place (only the newest cursor is stored); the ack replaced that way is answered when the newer one is, with its result: `acked` with its own cursor and `supersededBy` the newer cursor stored in its place, or the newer one's `error`. While Redis does not answer, an ack gets an `error` with status 503 (code streams.unavailable; send it again later) and the socket stays open.",
          payload: {
            type: 'object',
            required: ['op', 'cursor'],
            properties: { op: { type: 'string', const: 'ack' }, cursor: { type: 'string' } },
          },
        },
        wsEvent: {
          name: 'event',
          title: 'Event',
          payload: {
            type: 'object',
            required: ['op', 'cursor', 'event'],
            properties: {
              op: { type: 'string', const: 'event' },
              cursor: { type: 'string' },
              event: cloudEventEnvelope,
            },
          },
        },
        wsSubscribed: {
          name: 'subscribed',
          title: 'Subscribed',
          summary: 'The stream has started; events follow.',
          payload: {
            type: 'object',
            required: ['op', 'subscription'],
            properties: {
              op: { type: 'string', const: 'subscribed' },
              subscription: {
                type: ['string', 'null'],
                description: 'The durable stream subscription id, or null',
              },
            },
          },
        },
        wsAcked: {
          name: 'acked',
          title: 'Acknowledged',
          summary:
            'The ack of `cursor` is stored; a reconnect resumes right after it, or after `supersededBy` when that is set.',
          payload: {
            type: 'object',
            required: ['op', 'cursor'],
            properties: {
              op: { type: 'string', const: 'acked' },
              cursor: { type: 'string', description: 'The cursor of the ack this answers' },
              supersededBy: {
                type: 'string',
                description:
                  "Set when a newer ack took this one's place before its write started: the cursor stored instead (the newer ack gets its own `acked`)",
              },
            },
          },
        },
        wsError: {
          name: 'error',
          title: 'Error',
          summary: 'A message the server could not act on; the socket stays open.',
          payload: {
            type: 'object',
            required: ['op', 'code', 'status', 'message'],
            properties: {
              op: { type: 'string', const: 'error' },
              code: { type: 'string', description: 'e.g. streams.request_invalid' },
              status: { type: 'integer', description: 'The HTTP status the same problem has' },
              message: { type: 'string' },
              errors: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { pointer: { type: 'string' }, message: { type: 'string' } },
                },
              },
            },
          },
        },
        wsGap: {
          name: 'gap',
          title: 'Gap',
          summary:
            "Records after the client's position on one partition are no longer held by Kafka (retention) and were skipped; sent before the next event.",
          payload: {
            type: 'object',
            required: [
              'op',
              'topic',
              'partition',
              'requestedOffset',
              'resumedOffset',
              'skipped',
              'cursor',
            ],
            properties: {
              op: { type: 'string', const: 'gap' },
              topic: { type: 'string' },
              partition: { type: 'integer' },
              requestedOffset: {
                type: 'string',
                description: 'The offset the stream was to read next (decimal)',
              },
              resumedOffset: {
                type: 'string',
                description: 'The oldest offset held, where the stream reads on (decimal)',
              },
              skipped: {
                type: 'integer',
                description:
                  'Offsets skipped: at most this many records, of every type on the partition',
              },
              cursor: {
                type: 'string',
                description: 'The position right after the gap (ack it to store it)',
              },
            },
          },
        },
        wsEnd: {
          name: 'end',
          title: 'End',
          summary: 'The server ends the stream and closes the socket; resume with the cursor.',
          payload: {
            type: 'object',
            required: ['op', 'reason', 'cursor'],
            properties: {
              op: { type: 'string', const: 'end' },
              reason: {
                type: 'string',
                enum: [
                  'slow_consumer',
                  'shutdown',
                  'server_error',
                  'key_deleted',
                  'subscription_deleted',
                  'subscription_paused',
                  'subscription_disabled',
                  'subscription_changed',
                  'unresponsive',
                ],
              },
              cursor: { type: 'string' },
              message: { type: 'string', description: 'Why, in words' },
            },
          },
        },
      },
    },
  };
}
