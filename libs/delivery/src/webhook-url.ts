import type { AddressPolicy } from './address-policy';
import { InvalidWebhookUrlError } from './delivery.errors';
import {
  resolveAllowedAddresses,
  systemResolver,
  type HostResolver,
  type ResolvedAddress,
} from './host-resolver';

export interface WebhookUrlOptions {
  readonly policy: AddressPolicy;
  /** Resolves host names; default: the system resolver (`dns.promises.lookup`, all addresses). */
  readonly resolver?: HostResolver;
  /** Refuse `http:` URLs (`HERALD_HTTPS_ONLY`); default false. */
  readonly httpsOnly?: boolean;
}

export interface CheckedWebhookUrl {
  /** The URL as WHATWG normalises it (`http://0x7f000001` becomes `http://127.0.0.1/`). */
  readonly url: URL;
  /** The host without IPv6 brackets: what is resolved and judged. */
  readonly hostname: string;
  readonly addresses: readonly ResolvedAddress[];
}

/** Long enough for any sane callback URL; longer ones are refused rather than stored. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * Checks the form of a webhook URL without touching DNS: parseable, http or https (https only when
 * `httpsOnly`), no credentials. Returns the normalised URL or throws InvalidWebhookUrlError.
 */
export function parseWebhookUrl(text: string, options: { httpsOnly?: boolean } = {}): URL {
  if (text.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new InvalidWebhookUrlError(`the URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidWebhookUrlError(`"${text}" is not a valid absolute URL`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') {
    throw new InvalidWebhookUrlError(`the URL scheme must be http or https, not ${scheme}`);
  }
  if (options.httpsOnly && scheme !== 'https') {
    throw new InvalidWebhookUrlError('the URL scheme must be https on this server');
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidWebhookUrlError(
      'the URL must not contain credentials; use the subscription auth instead',
    );
  }
  return url;
}

/** The URL host as a resolver or the address policy expects it: IPv6 without brackets. */
export function hostnameOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Checks a webhook URL at registration: its form (see parseWebhookUrl), then every address its
 * host is or resolves to against the address policy. Throws InvalidWebhookUrlError,
 * AddressRefusedError or HostUnresolvableError.
 */
export async function checkWebhookUrl(
  text: string,
  options: WebhookUrlOptions,
): Promise<CheckedWebhookUrl> {
  const url = parseWebhookUrl(text, options);
  const hostname = hostnameOf(url);
  const addresses = await resolveAllowedAddresses(
    hostname,
    options.policy,
    options.resolver ?? systemResolver,
  );
  return { url, hostname, addresses };
}
