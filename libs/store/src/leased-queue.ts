import type { RedisConnection } from './redis.connection';

/**
 * The take-over of a queue whose claims hold a lease (`leaseUntil`, ms, in each item's hash):
 * KEYS claimed list, queue; ARGV hash key prefix, now (ms). Every claimed item whose lease ran out
 * goes back to the front of the queue, after `reset` (a Lua body over `hash`) has run on it;
 * answers their ids. Items whose hash is gone are dropped.
 */
export function takeOverScript(reset = ''): string {
  return `
local function reset(hash)
${reset}
end
local moved = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local hash = ARGV[1] .. id
  local lease = tonumber(redis.call('HGET', hash, 'leaseUntil') or '0') or 0
  if lease < tonumber(ARGV[2]) then
    redis.call('LREM', KEYS[1], 0, id)
    if redis.call('EXISTS', hash) == 1 then
      reset(hash)
      redis.call('RPUSH', KEYS[2], id)
      table.insert(moved, id)
    end
  end
end
return moved`;
}

/** Runs a `takeOverScript` over one leased queue; answers the ids it put back. */
export async function takeOverExpired(
  redis: RedisConnection,
  script: string,
  keys: { readonly claimed: string; readonly queue: string; readonly hashPrefix: string },
  nowMs: number,
): Promise<string[]> {
  return (await redis.client.eval(
    script,
    2,
    keys.claimed,
    keys.queue,
    keys.hashPrefix,
    nowMs,
  )) as string[];
}
