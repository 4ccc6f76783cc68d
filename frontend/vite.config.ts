import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'

// Django serves dist/ at the site root with an SPA fallback, so assets use
// absolute paths and every client route loads the same index.html.
const backend = process.env.WRITEUP_BACKEND ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    proxy: {
      '/api': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
})
