export {
  DeliveryErrorCode,
  InvalidWebhookUrlError,
  AddressRefusedError,
  HostUnresolvableError,
  InvalidNetworkError,
  InvalidRetryScheduleError,
  InvalidSecretError,
  InvalidHeaderError,
} from './delivery.errors';
export {
  parseIpAddress,
  formatIpAddress,
  parseCidr,
  parseCidrList,
  cidrContains,
  type IpAddress,
  type Cidr,
} from './ip-address';
export {
  createAddressPolicy,
  judgeAddress,
  judgeIp,
  assertAddressAllowed,
  embeddedIpv4,
  type AddressPolicy,
  type AddressVerdict,
} from './address-policy';
export {
  systemResolver,
  resolveAllowedAddresses,
  isLocalhostName,
  type HostResolver,
  type ResolvedAddress,
} from './host-resolver';
export {
  checkWebhookUrl,
  parseWebhookUrl,
  hostnameOf,
  MAX_WEBHOOK_URL_LENGTH,
  type WebhookUrlOptions,
  type CheckedWebhookUrl,
} from './webhook-url';
export {
  generateSecret,
  decodeSecret,
  signWebhook,
  webhookSignatureHeader,
  webhookTimestamp,
  verifyWebhookSignature,
  MIN_SECRET_BYTES,
  DEFAULT_SECRET_BYTES,
  DEFAULT_TOLERANCE_SECONDS,
  type SignedContent,
  type VerifyOptions,
} from './webhook-signature';
export {
  buildWebhookBody,
  structuredCloudEvent,
  standardPayload,
  tmf688Payload,
  WEBHOOK_FORMATS,
  DEFAULT_WEBHOOK_FORMAT,
  CLOUDEVENTS_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  type WebhookFormat,
  type DeliveryEvent,
  type WebhookBody,
} from './webhook-body';
export { tmfEventType, eventTypesForTmfNames, type TmfEventTypeMatch } from './tmf688-event-type';
export {
  buildWebhookRequest,
  checkSubscriptionHeaders,
  isReservedHeaderName,
  authorizationHeader,
  heraldUserAgent,
  MAX_SUBSCRIPTION_HEADERS,
  MAX_HEADER_VALUE_LENGTH,
  type WebhookAuth,
  type WebhookTarget,
  type WebhookRequestInput,
  type WebhookRequest,
} from './webhook-request';
export {
  decide,
  jitter,
  parseDuration,
  parseRetrySchedule,
  parseRetryAfter,
  describeOutcome,
  DEFAULT_RETRY_SCHEDULE,
  DEFAULT_RETRY_DELAYS_MS,
  MAX_RETRY_DELAY_MS,
  MAX_RETRY_SCHEDULE_LENGTH,
  RETRY_JITTER,
  type RetryDelays,
  type AttemptOutcome,
  type AttemptErrorKind,
  type RetryDecision,
  type RandomSource,
} from './retry-policy';
export {
  WebhookClient,
  classifyError,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_RESPONSE_BODY_BYTES,
  type WebhookClientOptions,
  type WebhookSend,
  type WebhookResponse,
  type WebhookFailure,
  type WebhookAttemptResult,
} from './webhook-client';
export { deliveryConfig, type DeliveryConfig } from './delivery.config';
