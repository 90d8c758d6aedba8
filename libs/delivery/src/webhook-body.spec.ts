import { CloudEvent, HTTP } from 'cloudevents';
import { buildWebhookBody, type DeliveryEvent } from './webhook-body';
import { eventTypesForTmfNames, tmfEventType } from './tmf688-event-type';

const event: DeliveryEvent = {
  id: 'evt-42',
  type: 'order.created',
  source: 'urn:herald:orders',
  time: '2025-03-01T12:00:00.000Z',
  subject: 'order/o-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  data: { orderId: 'o-1', total: 99.5, lines: [{ sku: 'A', qty: 2 }] },
};

describe('buildWebhookBody', () => {
  it('serialises an event once per format, however many subscriptions ask', () => {
    const copy: DeliveryEvent = { ...event };
    const first = buildWebhookBody(copy, 'cloudevents');
    expect(buildWebhookBody(copy, 'cloudevents')).toBe(first);
    expect(buildWebhookBody(copy, 'standard').body).not.toBe(first.body);
    // Another event with equal content is its own object: built anew, same bytes.
    expect(buildWebhookBody({ ...event }, 'cloudevents')).not.toBe(first);
    expect(buildWebhookBody({ ...event }, 'cloudevents').body).toBe(first.body);
  });

  it('embeds the JSON text the data came as, byte for byte, in every format', () => {
    // 2^53 + 1 does not survive JSON.parse; the text it came as does.
    const text = '{"orderId":"o-1","amountMinor":9007199254740993,"note":"caf\u00e9"}';
    const raw: DeliveryEvent = { ...event, data: JSON.parse(text), dataJson: text };
    for (const format of ['cloudevents', 'standard', 'tmf688'] as const) {
      const { body } = buildWebhookBody(raw, format);
      expect(body).toContain(text);
      // Apart from the exact digits, the same document as serializing the parsed data.
      expect(JSON.parse(body)).toEqual(
        JSON.parse(buildWebhookBody({ ...event, data: JSON.parse(text) }, format).body),
      );
    }
    const ce = HTTP.toEvent({
      headers: { 'content-type': 'application/cloudevents+json' },
      body: buildWebhookBody(raw, 'cloudevents').body,
    }) as CloudEvent<unknown>;
    expect(ce.validate()).toBe(true);
  });

  it('cloudevents: a structured CloudEvent the cloudevents SDK parses', () => {
    const { body, contentType } = buildWebhookBody(event, 'cloudevents');
    expect(contentType).toBe('application/cloudevents+json');
    const parsed = HTTP.toEvent({
      headers: { 'content-type': contentType },
      body,
    }) as CloudEvent<unknown>;
    expect(parsed).toBeInstanceOf(CloudEvent);
    expect(parsed.validate()).toBe(true);
    expect(parsed.specversion).toBe('1.0');
    expect(parsed.id).toBe('evt-42');
    expect(parsed.type).toBe('order.created');
    expect(parsed.source).toBe('urn:herald:orders');
    expect(parsed.subject).toBe('order/o-1');
    expect(parsed.time).toBe('2025-03-01T12:00:00.000Z');
    expect(parsed.datacontenttype).toBe('application/json');
    expect(parsed.data).toEqual(event.data);
    expect(parsed['traceparent']).toBe(event.traceparent);
  });

  it('cloudevents: leaves out absent optional attributes and carries binary data as base64', () => {
    const bytes = Uint8Array.from([0, 1, 2, 250]);
    const { body, contentType } = buildWebhookBody(
      {
        id: 'e',
        type: 'blob.stored',
        source: '/s',
        time: event.time,
        data: bytes,
        datacontenttype: 'application/octet-stream',
      },
      'cloudevents',
    );
    const json = JSON.parse(body) as Record<string, unknown>;
    expect(json).not.toHaveProperty('subject');
    expect(json).not.toHaveProperty('traceparent');
    expect(json['data_base64']).toBe('AAEC+g==');
    const parsed = HTTP.toEvent({
      headers: { 'content-type': contentType },
      body,
    }) as CloudEvent<unknown>;
    expect(parsed.validate()).toBe(true);
    expect(Buffer.from(parsed.data as Uint8Array)).toEqual(Buffer.from(bytes));
  });

  it('standard: {type, timestamp, data}', () => {
    const { body, contentType } = buildWebhookBody(event, 'standard');
    expect(contentType).toBe('application/json');
    expect(JSON.parse(body)).toEqual({
      type: 'order.created',
      timestamp: '2025-03-01T12:00:00.000Z',
      data: event.data,
    });
  });

  it('tmf688: {eventId, eventTime, eventType, event}', () => {
    const { body, contentType } = buildWebhookBody(
      { ...event, type: 'order.state_changed' },
      'tmf688',
    );
    expect(contentType).toBe('application/json');
    expect(JSON.parse(body)).toEqual({
      eventId: 'evt-42',
      eventTime: '2025-03-01T12:00:00.000Z',
      eventType: 'OrderStateChangeEvent',
      event: event.data,
    });
  });
});

describe('TMF688 event types', () => {
  it.each([
    ['order.created', 'OrderCreateEvent'],
    ['order.state_changed', 'OrderStateChangeEvent'],
    ['order.attribute_value_changed', 'OrderAttributeValueChangeEvent'],
    ['order.deleted', 'OrderDeleteEvent'],
    ['product_order.information_required', 'ProductOrderInformationRequiredEvent'],
    ['productOrder.created', 'ProductOrderCreateEvent'],
    ['shipping.parcel.shipped', 'ShippingParcelShippedEvent'],
    ['herald.ping', 'HeraldPingEvent'],
  ])('%s is %s', (type, tmf) => {
    expect(tmfEventType(type)).toBe(tmf);
  });

  it('maps hub query names back to the known types', () => {
    const known = ['order.created', 'order.state_changed', 'order.deleted', 'payment.created'];
    expect(
      eventTypesForTmfNames(['OrderCreateEvent', ' orderstatechangeevent ', ''], known),
    ).toEqual({
      types: ['order.created', 'order.state_changed'],
      unknown: [],
    });
    expect(eventTypesForTmfNames(['PaymentCreateEvent', 'InvoiceCreateEvent'], known)).toEqual({
      types: ['payment.created'],
      unknown: ['InvoiceCreateEvent'],
    });
  });

  it('finds every known type that shares a TMF name', () => {
    const known = ['order.state_changed', 'order.state-changed'];
    expect(eventTypesForTmfNames(['OrderStateChangeEvent'], known).types).toEqual(known);
  });
});
