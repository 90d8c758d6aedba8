module.exports = async function globalTeardown() {
  const redis = globalThis.__HERALD_REDIS__;
  if (redis) await redis.stop();
};
