import type { ContractRegistry, EventType } from '@herald/contract';
import { tmfEventType } from '@herald/delivery';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function anchor(type: string): string {
  return `type-${type.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

type Schema = Record<string, unknown>;

function typeOf(schema: Schema): string {
  const type = schema['type'];
  if (Array.isArray(type)) return type.join(' | ');
  if (typeof type === 'string') {
    if (type === 'array' && typeof schema['items'] === 'object' && schema['items'] !== null) {
      return `array of ${typeOf(schema['items'] as Schema)}`;
    }
    const format = typeof schema['format'] === 'string' ? ` (${schema['format']})` : '';
    return `${type}${format}`;
  }
  if (Array.isArray(schema['enum'])) return 'enum';
  if (schema['oneOf'] || schema['anyOf']) return 'one of several shapes';
  return 'any';
}

/** One row per field, nested objects flattened to dotted paths (`total.amount`). */
function fieldRows(schema: Schema, prefix = '', depth = 0): string[] {
  const properties = schema['properties'];
  if (typeof properties !== 'object' || properties === null || depth > 4) return [];
  const required = new Set(
    Array.isArray(schema['required']) ? (schema['required'] as string[]) : [],
  );
  return Object.entries(properties as Record<string, Schema>).flatMap(([name, field]) => {
    const path = `${prefix}${name}`;
    const notes: string[] = [];
    if (typeof field['description'] === 'string') notes.push(field['description']);
    if (Array.isArray(field['enum']))
      notes.push(`one of ${field['enum'].map((v) => JSON.stringify(v)).join(', ')}`);
    const row = `<tr><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(typeOf(field))}</td><td>${required.has(name) ? 'yes' : ''}</td><td>${escapeHtml(notes.join(' — '))}</td></tr>`;
    return [row, ...fieldRows(field, `${path}.`, depth + 1)];
  });
}

function eventSection(eventType: EventType): string {
  const rows = fieldRows(eventType.schema);
  return `<section class="event" id="${anchor(eventType.type)}">
  <h3><code>${escapeHtml(eventType.type)}</code>${eventType.title ? ` — ${escapeHtml(eventType.title)}` : ''}</h3>
  ${eventType.summary ? `<p>${escapeHtml(eventType.summary)}</p>` : ''}
  ${eventType.description ? `<p>${escapeHtml(eventType.description)}</p>` : ''}
  <dl>
    <dt>Topic</dt><dd><code>${escapeHtml(eventType.topic)}</code></dd>
    <dt>Partition key</dt><dd>${eventType.keyPointer ? `<code>${escapeHtml(eventType.keyPointer)}</code> (events with one key arrive in order)` : 'none'}</dd>
    <dt>TMF688 name</dt><dd><code>${escapeHtml(tmfEventType(eventType.type))}</code></dd>
  </dl>
  ${rows.length > 0 ? `<table><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Notes</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : ''}
  <details open><summary>Example</summary><pre class="example">${escapeHtml(JSON.stringify(eventType.example ?? null, null, 2))}</pre></details>
  <details><summary>JSON Schema</summary><pre class="schema">${escapeHtml(JSON.stringify(eventType.schema, null, 2))}</pre></details>
</section>`;
}

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;line-height:1.5}
header{background:#1d2330;color:#fff;padding:1.5rem 2rem}header a{color:#9cc3ff}
main{display:flex;gap:2rem;padding:0 2rem}nav{min-width:16rem;position:sticky;top:0;align-self:flex-start;max-height:100vh;overflow:auto;padding-top:1rem}
nav ul{list-style:none;padding-left:.75rem}article{flex:1;max-width:60rem}
pre{background:#f4f6fa;padding:.75rem;overflow:auto;border-radius:4px;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #dde2ea;padding:.3rem .5rem;text-align:left;vertical-align:top}
section.event{border-top:1px solid #dde2ea;padding-top:.5rem}dt{font-weight:600;float:left;clear:left;width:9rem}dd{margin-left:9rem}
`;

/**
 * The contract as one self-contained HTML page for partners (`GET /docs`): how events reach
 * them, then every channel and event type with its fields, example and JSON Schema. No scripts,
 * no external assets.
 */
export function renderContractDocs(contract: ContractRegistry, version: string): string {
  const topics = contract.topics();
  const nav = topics
    .map(
      (topic) =>
        `<li><strong>${escapeHtml(topic.channel)}</strong><ul>${topic.types
          .map((type) => `<li><a href="#${anchor(type)}">${escapeHtml(type)}</a></li>`)
          .join('')}</ul></li>`,
    )
    .join('');
  const channels = topics
    .map((topic) => {
      const sections = topic.types.map((type) => eventSection(contract.get(type)!)).join('\n');
      return `<h2 id="channel-${escapeHtml(topic.channel)}">${escapeHtml(topic.channel)} <small>(<code>${escapeHtml(topic.topic)}</code>${topic.internal ? ', Herald’s own events' : ''})</small></h2>\n${sections}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Herald events — contract ${escapeHtml(version)}</title><style>${STYLE}</style></head>
<body><header><h1>Herald events</h1>
<p>${contract.eventTypes().length} event types. Machine-readable: <a href="/asyncapi.yaml">asyncapi.yaml</a>, <a href="/asyncapi.json">asyncapi.json</a>, <a href="/v1/event-types">/v1/event-types</a>. REST API: <a href="/api-docs">/api-docs</a>.</p></header>
<main><nav><ul>${nav}</ul></nav><article>
<h2>Receiving events</h2>
<p><strong>Webhooks.</strong> Create a subscription (<code>POST /v1/subscriptions</code> with <code>types</code> such as <code>order.*</code>). Herald POSTs each matching event — as a CloudEvent (default), <code>{type, timestamp, data}</code> (<code>standard</code>) or <code>{eventId, eventTime, eventType, event}</code> (<code>tmf688</code>). Verify <code>webhook-signature</code> with the secret you got at creation (Standard Webhooks); <code>webhook-id</code> stays the same across retries, so use it to drop duplicates. Answer 2xx quickly; anything else is retried, then dead-lettered.</p>
<p><strong>Streams.</strong> <code>GET /v1/streams/sse</code> (Server-Sent Events), <code>/v1/streams/ws</code> (WebSocket) or <code>/v1/streams/poll</code> with a key holding <code>streams:read</code>; every message carries a cursor to resume from.</p>
<p>The payloads below are the CloudEvent <code>data</code>.</p>
${channels}
</article></main></body></html>`;
}
