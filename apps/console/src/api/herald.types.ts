// What Herald's public REST API answers, as far as the console reads it (see /openapi.json).

export interface EventType {
  readonly type: string;
  readonly tmfEventType: string;
  readonly channel: string;
  readonly topic: string;
  readonly title: string | null;
  readonly summary: string | null;
  readonly description: string | null;
  readonly key: string | null;
  readonly internal: boolean;
  readonly schema: unknown;
  readonly example: unknown;
}

export type SubscriptionStatus = 'pending' | 'active' | 'paused' | 'disabled';
export type WebhookFormat = 'cloudevents' | 'standard' | 'tmf688';
export type VerificationMode = 'none' | 'websub' | 'cloudevents';

export interface Subscription {
  readonly id: string;
  readonly tenant: string;
  readonly kind: 'webhook' | 'stream';
  readonly url: string | null;
  readonly types: readonly string[];
  readonly filter: Readonly<Record<string, unknown>> | null;
  readonly format: WebhookFormat;
  readonly ordering: 'key' | 'none';
  readonly from: string;
  readonly maxInFlight: number;
  readonly maxPerSecond: number | null;
  readonly retry: { readonly schedule: readonly string[] };
  readonly headers: Readonly<Record<string, string>>;
  readonly auth: { readonly type: 'bearer' | 'basic' } | null;
  readonly verification: {
    readonly mode: VerificationMode;
    readonly state: 'not_required' | 'pending' | 'passed' | 'failed';
    readonly checkedAt: string | null;
    readonly failure: string | null;
  };
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly status: SubscriptionStatus;
  readonly statusReason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly version: number;
}

export interface CreatedSubscription extends Subscription {
  /** The signing secret, in this answer only. */
  readonly secret: string | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export interface DeliveryAttempt {
  readonly id: string;
  readonly eventId: string;
  readonly type: string;
  readonly attempt: number;
  readonly at: string;
  readonly status: 'succeeded' | 'failed';
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
  readonly responseBody: string | null;
  readonly replay: boolean;
  readonly test: boolean;
}

export interface DeadLetter {
  readonly id: string;
  readonly eventId: string;
  readonly type: string;
  readonly key: string | null;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly firstAttemptAt: string;
  readonly deadLetteredAt: string;
  readonly redrivenAt: string | null;
  readonly redriveId: string | null;
}

export interface SubscriptionStats {
  readonly delivered: number;
  readonly failed: number;
  readonly pending: number;
  readonly deadLettered: number;
  readonly lagEvents: number;
  readonly lastSuccessAt: string | null;
  readonly lastFailureAt: string | null;
}

export type ReplayPosition = { readonly time: string } | { readonly cursor: string };

export interface Replay {
  readonly id: string;
  readonly from: ReplayPosition;
  readonly to: ReplayPosition | null;
  readonly status: 'requested' | 'running' | 'completed' | 'failed' | 'cancelled';
  readonly requestedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly error: string | null;
  /** Times it started again from its beginning after the instance running it stopped. */
  readonly restarts?: number;
  readonly progress: {
    readonly scanned: number;
    readonly matched: number;
    readonly delivered: number;
    readonly deadLettered: number;
  };
}

export interface PingResult {
  readonly eventId: string;
  readonly delivered: boolean;
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

export interface RotatedSecret {
  readonly secret: string;
  readonly previousSecretExpiresAt: string | null;
}
