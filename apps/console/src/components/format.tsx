import type { SubscriptionStatus } from '../api/herald.types';
import { jsonText } from './json-text';

/** A time as the reader's locale shows it, machine-readable underneath. */
export function Time({ value }: { value: string | null }) {
  if (value === null) return <span className="muted">never</span>;
  const date = new Date(value);
  return (
    <time dateTime={value} title={value}>
      {date.toLocaleString()}
    </time>
  );
}

export function StatusBadge({ status }: { status: SubscriptionStatus }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      <code>{jsonText(value)}</code>
    </pre>
  );
}
