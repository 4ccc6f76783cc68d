// node tests/e2e/run.mjs <scenario> [--base URL] [--artifacts DIR]
// Runs one browser scenario; exit 0 = passed. Called by test_browser.py.
import { scenarios } from './scenarios.mjs'

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
const name = args[0]
const env = {
  base: option('--base', process.env.WRITEUP_BASE ?? 'http://127.0.0.1:8000'),
  artifacts: option('--artifacts', 'artifacts/e2e'),
}

if (!scenarios[name]) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
const started = Date.now()
try {
  await scenarios[name](env)
  console.log(`${name}: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`)
} catch (e) {
  console.error(`${name}: FAILED\n${e?.stack ?? e}`)
  process.exit(1)
}
