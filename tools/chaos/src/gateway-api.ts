import { sleep } from './random';

/** Thrown when the gateway answers something the run cannot continue without. */
export class GatewayApiError extends Error {}

/** What a subscription is created with (SPEC §5), as far as the runs use it. */
export interface SubscriptionRequest {
  readonly kind: 'webhook';
  readonly url: string;
  readonly types: readonly string[];
  readonly filter?: Record<string, unknown>;
  readonly maxInFlight?: number;
  readonly retry?: { schedule: readonly string[] };
  readonly description?: string;
}

/**
 * The subscription API as the runs use it. Every call retries network errors and 5xx for a
 * while, because subscription-api or Redis may be in the middle of a restart.
 */
export class GatewayApi {
  constructor(
    private readonly baseUrl: string,
    private readonly adminKey: string,
  ) {}

  async request(
    method: string,
    path: string,
    { key = this.adminKey, body }: { key?: string; body?: unknown } = {},
  ): Promise<{ status: number; json: unknown }> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const textBody = await response.text();
        if (response.status < 500) {
          return { status: response.status, json: textBody === '' ? null : JSON.parse(textBody) };
        }
        last = `${response.status} ${textBody.slice(0, 200)}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await sleep(500);
    }
    throw new GatewayApiError(`${method} ${path} did not succeed within 60 s: ${last}`);
  }

  async expect(
    status: number,
    method: string,
    path: string,
    options: { key?: string; body?: unknown } = {},
  ): Promise<Record<string, unknown>> {
    const answer = await this.request(method, path, options);
    if (answer.status !== status)
      throw new GatewayApiError(
        `${method} ${path} answered ${answer.status}, expected ${status}: ${JSON.stringify(answer.json)}`,
      );
    return answer.json as Record<string, unknown>;
  }

  /** A new API key of `tenant` (created with the admin key); returns the secret. */
  async createKey(name: string, tenant: string, scopes: readonly unknown[]): Promise<string> {
    const created = await this.expect(201, 'POST', '/v1/api-keys', {
      body: { name, tenant, scopes },
    });
    return String(created.key);
  }

  async createSubscription(key: string, request: SubscriptionRequest): Promise<string> {
    const created = await this.expect(201, 'POST', '/v1/subscriptions', { key, body: request });
    return String(created.id);
  }

  async subscriptionStatus(id: string): Promise<string> {
    const found = await this.expect(200, 'GET', `/v1/subscriptions/${id}`);
    return String(found.status);
  }

  /** Every dead letter of a subscription (event ids), following the pages. */
  async deadLetterIds(id: string): Promise<Set<string>> {
    const ids = new Set<string>();
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const page = (await this.expect(
        200,
        'GET',
        `/v1/subscriptions/${id}/dead-letters?limit=100${query}`,
      )) as { items: { eventId: string }[]; nextCursor: string | null };
      for (const letter of page.items) ids.add(letter.eventId);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return ids;
  }

  /** Every event type of the contract with its example payload (when it has one). */
  async catalog(): Promise<{ types: string[]; examples: Map<string, Record<string, unknown>> }> {
    const catalog = (await this.expect(200, 'GET', '/v1/event-types')) as {
      items: { type: string; example?: Record<string, unknown> }[];
    };
    return {
      types: catalog.items.map((item) => item.type),
      examples: new Map(
        catalog.items.flatMap((item) => (item.example ? [[item.type, item.example] as const] : [])),
      ),
    };
  }
}
