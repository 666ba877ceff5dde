// The web app's bundle: React + noVNC (ESM with top-level await, hence ES2022), built into <cwd>/dist/web
// so that private builds (run from another root) never write into the shared tree's dist/.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: webRoot,
  base: '/',
  plugins: [react()],
  build: {
    outDir: resolve(process.cwd(), 'dist', 'web'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // The strict CSP forbids inline scripts; modern Chromium needs no modulepreload polyfill.
    modulePreload: { polyfill: false },
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1024,
  },
});
