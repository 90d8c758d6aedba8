import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './redis.connection';

/**
 * A new claim's token, stored in the item's hash (`owner`) by the claim script. Every later write
 * under the claim names it, so a claimer that stalled past its lease (an event-loop pause, a
 * partition from Redis) and wakes after another instance took the item over cannot change it.
 */
export function newClaimToken(): string {
  return randomUUID();
}

/**
 * Lua: `held_by(hash, token)` answers 1 when `token` holds the item's claim, 0 when the item is
 * gone (its hash, with the request in it, was deleted), -1 when another claim holds it or it was
 * taken over and waits in the queue again.
 */
export const HELD_BY_LUA = `
local function held_by(hash, token)
  if redis.call('HEXISTS', hash, 'request') == 0 then return 0 end
  if redis.call('HGET', hash, 'owner') ~= token then return -1 end
  return 1
end`;

/**
 * The take-over of a queue whose claims hold a lease (`leaseUntil`, ms, in each item's hash):
 * KEYS claimed list, queue; ARGV hash key prefix, now (ms). Every claimed item whose lease ran out
 * goes back to the front of the queue, after `reset` (a Lua body over `hash`) has run on it;
 * answers their ids. Items whose hash is gone are dropped. The item's claim token goes: the
 * claimer whose lease ran out no longer holds it, even before anyone claims it again.
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
      redis.call('HDEL', hash, 'owner')
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
