/** Herald's own topics. Every internal topic name comes from here, never from string concatenation. */
export const HERALD_TOPICS = {
  dlqIngest: 'herald.dlq.ingest',
  dlqDelivery: 'herald.dlq.delivery',
  operational: 'herald.operational',
} as const;

export type HeraldTopic = (typeof HERALD_TOPICS)[keyof typeof HERALD_TOPICS];

/** Internal topics start with this; producer-facing channel topics must not. */
export const HERALD_TOPIC_PREFIX = 'herald.';

/** True for names reserved to Herald (`herald.*`). */
export function isHeraldTopic(topic: string): boolean {
  return topic.startsWith(HERALD_TOPIC_PREFIX);
}

/**
 * Why Kafka would refuse `topic` as a name, or undefined when it is legal: 1-249 characters of
 * letters, digits, `.`, `_`, `-`, and not `.` or `..`.
 */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0 || topic.length > 249) return 'must be 1 to 249 characters long';
  if (topic === '.' || topic === '..') return 'cannot be "." or ".."';
  if (!/^[A-Za-z0-9._-]+$/.test(topic)) return 'may contain only letters, digits, ".", "_" and "-"';
  return undefined;
}
