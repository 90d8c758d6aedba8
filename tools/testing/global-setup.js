// Jest global setup: make sure a Redis answers for integration tests (see redis-harness.js).
const { ensureRedis } = require('./redis-harness.js');

module.exports = async function globalSetup() {
  const redis = await ensureRedis();
  process.env.REDIS_URL = redis.url;
  globalThis.__HERALD_REDIS__ = redis;
};
