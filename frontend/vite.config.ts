import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// Built assets are served by Django (whitenoise) under STATIC_URL=/static/.
// In `npm run dev`, API and websocket calls go to a running `composer up` (COMPOSER_URL).
const backend = process.env.COMPOSER_URL ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/static/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1600, // elkjs (lazy-loaded on first auto-layout) is one 1.4 MB chunk,
  },
  server: {
    proxy: {
      '/api': backend,
      '/healthz': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
})
