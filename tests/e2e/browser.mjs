// Headless Debian Chromium driven by playwright-core (from frontend/node_modules).
// Never downloads a browser: it runs the system one.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const require = createRequire(new URL('../../frontend/package.json', import.meta.url))
const { chromium } = require('playwright-core')

export const CHROMIUM = process.env.WRITEUP_CHROMIUM ?? '/usr/bin/chromium'
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Settings every scenario starts from, unless a scenario changed them itself. */
export const TEST_SETTINGS = {
  model: 'smollm2',
  maxTokens: 16,
  temperature: 0.8,
  n: 2,
  debounceMs: 400,
  autoSuggest: true,
}

/** A fresh browser profile; returns the context, its first page and a close(). */
export async function openBrowser({ base, artifacts, viewport = { width: 1280, height: 800 } }) {
  const profile = mkdtempSync(join(tmpdir(), 'writeup-e2e-profile-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    baseURL: base,
  })
  await context.addInitScript((settings) => {
    if (!localStorage.getItem('writeup:settings')) localStorage.setItem('writeup:settings', JSON.stringify(settings))
  }, TEST_SETTINGS)
  mkdirSync(artifacts, { recursive: true })
  const page = context.pages()[0] ?? (await context.newPage())
  const logs = []
  const watchPage = (p) => {
    p.on('console', (m) => logs.push(`console.${m.type()}: ${m.text()}`))
    p.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`))
  }
  watchPage(page)
  context.on('page', watchPage)
  return {
    context,
    page,
    logs,
    shot: (p, name) => p.screenshot({ path: join(artifacts, `${name}.png`) }),
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}

/** Records the compose socket's JSON frames of a page, both ways. */
export function recordFrames(page) {
  const sent = []
  const received = []
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/ws/compose/')) return
    const parse = (payload) => {
      try {
        return JSON.parse(typeof payload === 'string' ? payload : payload.toString())
      } catch {
        return null
      }
    }
    ws.on('framesent', (f) => sent.push(parse(f.payload)))
    ws.on('framereceived', (f) => received.push(parse(f.payload)))
  })
  return { sent, received }
}
