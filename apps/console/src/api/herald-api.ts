import { ApiProblem, problemFromAnswer, unreachableProblem } from './api-problem';
import type {
  CreatedSubscription,
  DeadLetter,
  DeliveryAttempt,
  EventType,
  Page,
  PingResult,
  Replay,
  RotatedSecret,
  Subscription,
  SubscriptionStats,
} from './herald.types';

export interface HeraldApiOptions {
  /** subscription-api's origin; '' for the one that served the console. */
  readonly baseUrl: string;
  /** The partner's API key; null before signing in (the catalog is public). */
  readonly key: string | null;
  /** Called with the problem when Herald refuses the key (401), before the call throws. */
  readonly onUnauthorized?: (problem: ApiProblem) => void;
  readonly fetch?: typeof fetch;
}

const path = (id: string) => `/v1/subscriptions/${encodeURIComponent(id)}`;

function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== null && value !== undefined && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Herald's public REST API (subscription-api), as the console calls it: every failure becomes an
 * ApiProblem carrying the problem's own words.
 */
export class HeraldApi {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: HeraldApiOptions) {
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  private async call<T>(
    method: string,
    target: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ body: T; headers: Headers }> {
    const sent: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.options.key !== null) sent.authorization = `Bearer ${this.options.key}`;
    if (body !== undefined) sent['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetch(`${this.options.baseUrl}${target}`, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw unreachableProblem('Herald', error);
    }
    const text = await response.text();
    if (!response.ok) {
      const problem = problemFromAnswer(response.status, response.statusText, text);
      if (response.status === 401) this.options.onUnauthorized?.(problem);
      throw problem;
    }
    return { body: (text === '' ? null : JSON.parse(text)) as T, headers: response.headers };
  }

  async eventTypes(): Promise<readonly EventType[]> {
    return (await this.call<{ items: EventType[] }>('GET', '/v1/event-types')).body.items;
  }

  async listSubscriptions(cursor: string | null = null): Promise<Page<Subscription>> {
    return (await this.call<Page<Subscription>>('GET', `/v1/subscriptions${query({ cursor })}`))
      .body;
  }

  async getSubscription(id: string): Promise<Subscription> {
    return (await this.call<Subscription>('GET', path(id))).body;
  }

  async createSubscription(body: Record<string, unknown>): Promise<CreatedSubscription> {
    return (await this.call<CreatedSubscription>('POST', '/v1/subscriptions', body)).body;
  }

  /** Changes `patch`'s fields; with `version`, fails (409) when someone changed it since. */
  async updateSubscription(
    id: string,
    patch: Record<string, unknown>,
    version?: number,
  ): Promise<Subscription> {
    const headers: Record<string, string> =
      version === undefined ? {} : { 'if-match': `"${version}"` };
    return (await this.call<Subscription>('PATCH', path(id), patch, headers)).body;
  }

  async pause(id: string): Promise<Subscription> {
    return (await this.call<Subscription>('POST', `${path(id)}/pause`)).body;
  }

  async resume(id: string): Promise<Subscription> {
    return (await this.call<Subscription>('POST', `${path(id)}/resume`)).body;
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.call<null>('DELETE', path(id));
  }

  async sendTestPing(id: string): Promise<PingResult> {
    return (await this.call<PingResult>('POST', `${path(id)}/test`)).body;
  }

  /** `auth`: new endpoint credentials sent with the rotation (null removes them); absent: kept. */
  async rotateSecret(
    id: string,
    graceSeconds: number,
    auth?: Record<string, string> | null,
  ): Promise<RotatedSecret> {
    const body = auth === undefined ? { graceSeconds } : { graceSeconds, auth };
    return (await this.call<RotatedSecret>('POST', `${path(id)}/secret/rotate`, body)).body;
  }

  async replay(id: string, from: string, to?: string): Promise<{ replayId: string }> {
    const body = to === undefined ? { from } : { from, to };
    return (await this.call<{ replayId: string }>('POST', `${path(id)}/replay`, body)).body;
  }

  async replays(id: string): Promise<readonly Replay[]> {
    return (await this.call<{ items: Replay[] }>('GET', `${path(id)}/replays`)).body.items;
  }

  async deliveries(
    id: string,
    options: {
      status?: 'succeeded' | 'failed' | null;
      limit?: number;
      cursor?: string | null;
    } = {},
  ): Promise<Page<DeliveryAttempt>> {
    const search = query({ status: options.status, limit: options.limit, cursor: options.cursor });
    return (await this.call<Page<DeliveryAttempt>>('GET', `${path(id)}/deliveries${search}`)).body;
  }

  /** One page of dead letters, oldest first: 100, the most the API gives at once. */
  async deadLetters(id: string, cursor: string | null = null): Promise<Page<DeadLetter>> {
    const search = query({ limit: 100, cursor });
    return (await this.call<Page<DeadLetter>>('GET', `${path(id)}/dead-letters${search}`)).body;
  }

  /** Redrives the given dead letters, or all not yet redriven when `ids` is absent. */
  async redrive(id: string, ids?: readonly string[]): Promise<{ redriveId: string }> {
    const body = ids === undefined ? {} : { ids };
    return (
      await this.call<{ redriveId: string }>('POST', `${path(id)}/dead-letters/redrive`, body)
    ).body;
  }

  async stats(id: string): Promise<SubscriptionStats> {
    return (await this.call<SubscriptionStats>('GET', `${path(id)}/stats`)).body;
  }
}
