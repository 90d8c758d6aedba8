import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import {
  DeliveryErrorCode,
  checkWebhookUrl,
  resolveAllowedAddresses,
  type AddressPolicy,
  type HostResolver,
  type ResolvedAddress,
} from '@herald/delivery';
import { isHeraldError } from '@herald/errors';
import { UnprocessableRequestError } from './subscriptions.errors';

/** The address policy, resolver and scheme rule webhook URLs are checked against. */
export interface WebhookUrlRules {
  readonly policy: AddressPolicy;
  readonly resolver: HostResolver;
  readonly httpsOnly: boolean;
}

/** The answer to a guarded request: status, headers and the first KiB of the body. */
export interface GuardedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const KEPT_BODY_BYTES = 1024;

const REFUSALS = new Set<string>([
  DeliveryErrorCode.invalidUrl,
  DeliveryErrorCode.addressRefused,
  DeliveryErrorCode.hostUnresolvable,
]);

/**
 * Everything the subscription API does with a partner's URL goes through here: the check at
 * registration (refusals become 422 at `/url`), and the ownership handshakes, whose requests
 * connect only to addresses the policy allowed at that moment (a DNS answer that changes in
 * between cannot redirect them to a private address).
 */
export class WebhookUrlGuard {
  constructor(private readonly rules: WebhookUrlRules) {}

  /** The normalised URL, or UnprocessableRequestError naming why Herald will not call it. */
  async check(url: string, pointer = '/url'): Promise<string> {
    try {
      return (await checkWebhookUrl(url, this.rules)).url.toString();
    } catch (error) {
      if (isHeraldError(error) && REFUSALS.has(error.code)) {
        throw new UnprocessableRequestError([{ pointer, message: error.message }]);
      }
      throw error;
    }
  }

  /**
   * One request without a body, redirects not followed, the whole exchange within `timeoutMs`.
   * Throws (HeraldError for a refused address, undici errors otherwise) when no answer comes.
   */
  async request(
    url: string,
    options: { method: 'GET' | 'OPTIONS'; headers: Record<string, string>; timeoutMs: number },
  ): Promise<GuardedResponse> {
    const target = new URL(url);
    const hostname = target.hostname.replace(/^\[|\]$/g, '');
    const addresses = await resolveAllowedAddresses(
      hostname,
      this.rules.policy,
      this.rules.resolver,
    );
    const agent = new Agent({
      connect: { lookup: pinnedLookup(addresses), timeout: options.timeoutMs },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    try {
      const response = await request(target, {
        method: options.method,
        headers: options.headers,
        dispatcher: agent,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        chunks.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= KEPT_BODY_BYTES) break;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name.toLowerCase()] = [value].flat().join(', ');
      }
      return {
        status: response.statusCode,
        headers,
        body: Buffer.concat(chunks).subarray(0, KEPT_BODY_BYTES).toString('utf8'),
      };
    } finally {
      await agent.destroy();
    }
  }
}

/** A lookup that answers only with addresses already checked against the policy. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const usable = addresses.filter((a) => !options.family || a.family === options.family);
    const chosen = usable.length > 0 ? usable : addresses;
    if (options.all) {
      callback(
        null,
        chosen.map((a) => ({ address: a.address, family: a.family })),
      );
      return;
    }
    const first = chosen[0]!;
    callback(null, first.address, first.family);
  };
}
