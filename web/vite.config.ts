/// <reference types="vitest/config" />
// SPDX-License-Identifier: AGPL-3.0-or-later
// Vite 7 with esbuild's own JSX transform (no React plugin). The build uses relative asset
// paths so the C server can serve dist/ from "/" (or anywhere); the app calls the API at /v1.
import { defineConfig } from 'vite';

const apiTarget = process.env.STARMETER_API ?? 'http://127.0.0.1:18080';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      onwarn(warning, warn) {
        // React Query ships "use client" directives for server components; meaningless here.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE' && warning.message.includes('use client')) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      '/v1': { target: apiTarget, changeOrigin: false },
      '/healthz': { target: apiTarget },
    },
  },
  preview: {
    proxy: {
      '/v1': { target: apiTarget, changeOrigin: false },
      '/healthz': { target: apiTarget },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    testTimeout: 20000,
    css: false,
  },
});
