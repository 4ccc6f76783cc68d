import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'

// Django serves dist/ at the site root with an SPA fallback, so assets use
// absolute paths and every client route loads the same index.html.
// Read through globalThis so the config needs no Node type definitions.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {}
const backend = env.WRITEUP_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    proxy: {
      '/api': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 700 },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
})
