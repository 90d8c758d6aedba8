import { HeraldError } from '@herald/errors';

/** The stable codes of the errors this lib raises; transports map them to 422 problems or log entries. */
export const DeliveryErrorCode = {
  invalidUrl: 'delivery.invalid_url',
  addressRefused: 'delivery.address_refused',
  hostUnresolvable: 'delivery.host_unresolvable',
  invalidNetwork: 'delivery.invalid_network',
  invalidRetrySchedule: 'delivery.invalid_retry_schedule',
  invalidSecret: 'delivery.invalid_secret',
  invalidHeader: 'delivery.invalid_header',
} as const;

export type DeliveryErrorCode = (typeof DeliveryErrorCode)[keyof typeof DeliveryErrorCode];

/** A webhook URL that is malformed, uses a scheme other than http(s), or carries credentials. */
export class InvalidWebhookUrlError extends HeraldError {
  constructor(message: string) {
    super(DeliveryErrorCode.invalidUrl, message);
  }
}

/** A destination address the policy forbids: loopback, private, link-local, reserved, … */
export class AddressRefusedError extends HeraldError {
  constructor(
    readonly address: string,
    readonly reason: string,
    /** The name that resolved to `address`, when the URL named a host rather than an IP. */
    readonly hostname?: string,
  ) {
    super(
      DeliveryErrorCode.addressRefused,
      hostname === undefined
        ? `${address} is ${reason}`
        : `${hostname} resolves to ${address}, which is ${reason}`,
    );
  }
}

/** DNS gave no address for a webhook host. Retryable: the name may resolve later. */
export class HostUnresolvableError extends HeraldError {
  constructor(
    readonly hostname: string,
    cause?: unknown,
  ) {
    const detail = cause instanceof Error && 'code' in cause ? ` (${String(cause.code)})` : '';
    super(
      DeliveryErrorCode.hostUnresolvable,
      `${hostname} does not resolve to any address${detail}`,
      {
        retryable: true,
        cause,
      },
    );
  }
}

/** An entry of an allow-list that is not an IP address or CIDR block. */
export class InvalidNetworkError extends HeraldError {
  constructor(message: string) {
    super(DeliveryErrorCode.invalidNetwork, message);
  }
}

/** A retry schedule entry that is not a duration, or a schedule that is too long. */
export class InvalidRetryScheduleError extends HeraldError {
  constructor(message: string) {
    super(DeliveryErrorCode.invalidRetrySchedule, message);
  }
}

/** A signing secret that is not `whsec_<base64>`. */
export class InvalidSecretError extends HeraldError {
  constructor(message: string) {
    super(DeliveryErrorCode.invalidSecret, message);
  }
}

/** A subscription header Herald will not send: a reserved name or an illegal name or value. */
export class InvalidHeaderError extends HeraldError {
  constructor(message: string) {
    super(DeliveryErrorCode.invalidHeader, message);
  }
}
