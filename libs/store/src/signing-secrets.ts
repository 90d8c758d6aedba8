/**
 * A subscription's webhook signing secrets: the current one, and during a rotation's grace
 * period the one it replaced. Deliveries are signed with every live secret (newest first), so a
 * receiver still holding the old one keeps verifying until the grace ends.
 */
export interface SigningSecrets {
  readonly current: string;
  readonly previous: { readonly secret: string; readonly expiresAt: string } | null;
}

/** The secrets to sign with at `nowMs`: the current one, plus the previous one until it expires. */
export function activeSecrets(secrets: SigningSecrets, nowMs: number = Date.now()): string[] {
  const { previous } = secrets;
  return previous && Date.parse(previous.expiresAt) > nowMs
    ? [secrets.current, previous.secret]
    : [secrets.current];
}

/**
 * Rotates to `next`: the current secret stays live for `graceSeconds` (0 retires it at once).
 * A previous secret still in its grace is dropped: at most two secrets are ever live.
 */
export function rotateSigningSecrets(
  secrets: SigningSecrets,
  next: string,
  graceSeconds: number,
  nowMs: number = Date.now(),
): SigningSecrets {
  return {
    current: next,
    previous:
      graceSeconds > 0
        ? {
            secret: secrets.current,
            expiresAt: new Date(nowMs + graceSeconds * 1000).toISOString(),
          }
        : null,
  };
}
