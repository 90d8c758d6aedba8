// The console is served by subscription-api at /console (see README.md). `npm run build -w
// apps/console` writes dist/ through src/build/console-build.ts, which runs this config.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // `npx vite apps/console` while developing: API calls go to a local subscription-api.
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:3000',
      '/console/config.json': 'http://127.0.0.1:3000',
    },
  },
});
