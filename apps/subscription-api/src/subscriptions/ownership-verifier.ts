import { randomBytes } from 'node:crypto';
import type { Subscription } from '@herald/store';
import type { WebhookUrlGuard } from './webhook-url.guard';

export type VerificationOutcome =
  { readonly passed: true } | { readonly passed: false; readonly reason: string };

/**
 * Proves the owner of a webhook endpoint wants Herald's events before anything is sent to it:
 * `websub` (a GET whose `hub.challenge` must come back as the body) or `cloudevents` (the
 * CloudEvents webhook OPTIONS handshake, which must allow Herald's origin).
 */
export class OwnershipVerifier {
  constructor(
    private readonly guard: WebhookUrlGuard,
    private readonly options: { readonly timeoutMs: number; readonly origin: string },
  ) {}

  async verify(subscription: Subscription): Promise<VerificationOutcome> {
    const { url } = subscription;
    if (url === null) return { passed: true };
    try {
      switch (subscription.verification.mode) {
        case 'none':
          return { passed: true };
        case 'websub':
          return await this.websub(url, subscription);
        case 'cloudevents':
          return await this.cloudEvents(url);
      }
    } catch (error) {
      return { passed: false, reason: this.describeFailure(error) };
    }
  }

  private async websub(url: string, subscription: Subscription): Promise<VerificationOutcome> {
    const challenge = randomBytes(24).toString('base64url');
    const target = new URL(url);
    target.searchParams.set('hub.mode', 'subscribe');
    target.searchParams.set('hub.topic', subscription.types.join(','));
    target.searchParams.set('hub.challenge', challenge);
    const response = await this.guard.request(target.toString(), {
      method: 'GET',
      headers: { accept: 'text/plain' },
      timeoutMs: this.options.timeoutMs,
    });
    if (response.status < 200 || response.status > 299) {
      return {
        passed: false,
        reason: `the endpoint answered the WebSub check with ${response.status}`,
      };
    }
    if (response.body.trim() !== challenge) {
      return {
        passed: false,
        reason: 'the endpoint did not echo hub.challenge as the response body',
      };
    }
    return { passed: true };
  }

  private async cloudEvents(url: string): Promise<VerificationOutcome> {
    const response = await this.guard.request(url, {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': this.options.origin },
      timeoutMs: this.options.timeoutMs,
    });
    if (response.status < 200 || response.status > 299) {
      return {
        passed: false,
        reason: `the endpoint answered the CloudEvents handshake with ${response.status}`,
      };
    }
    const allowed = (response.headers['webhook-allowed-origin'] ?? '')
      .split(',')
      .map((origin) => origin.trim());
    if (!allowed.includes(this.options.origin) && !allowed.includes('*')) {
      return {
        passed: false,
        reason: `the endpoint did not answer with WebHook-Allowed-Origin: ${this.options.origin}`,
      };
    }
    return { passed: true };
  }

  private describeFailure(error: unknown): string {
    const name = (error as { name?: string }).name;
    const code = (error as { code?: string }).code;
    if (
      name === 'TimeoutError' ||
      name === 'AbortError' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT'
    ) {
      return `the endpoint did not answer within ${this.options.timeoutMs} ms`;
    }
    const message = error instanceof Error ? error.message : String(error);
    return `the endpoint could not be reached: ${code ? `${code} ` : ''}${message}`.slice(0, 500);
  }
}
