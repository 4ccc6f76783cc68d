/** Suggestion settings, remembered per browser. */
import type { ModelInfo } from '../api/models'
import type { KeyValueStore } from '../drafts/localCopy'

export interface Settings {
  /** Route of the chosen model; null until the model list has been seen. */
  model: string | null
  /** Suggestion length in tokens (params.max_tokens). */
  maxTokens: number
  /** Creativity (params.temperature). */
  temperature: number
  /** Alternatives per request (params.n). */
  n: number
  /** Pause before asking, in ms. */
  debounceMs: number
  /** Suggest by itself after a pause; off = only on Ctrl+Space. */
  autoSuggest: boolean
}

export interface Preset {
  label: string
  value: number
  hint: string
}

export const LENGTH_PRESETS: Preset[] = [
  { label: 'Short', value: 12, hint: 'a few words' },
  { label: 'Medium', value: 24, hint: 'about a sentence' },
  { label: 'Long', value: 60, hint: 'a few sentences' },
]

export const CREATIVITY_PRESETS: Preset[] = [
  { label: 'Focused', value: 0.4, hint: 'predictable, stays on topic' },
  { label: 'Balanced', value: 0.8, hint: 'the usual' },
  { label: 'Wild', value: 1.2, hint: 'surprising, sometimes odd' },
]

export const DEFAULT_SETTINGS: Settings = {
  model: null,
  maxTokens: 24,
  temperature: 0.8,
  n: 3,
  debounceMs: 400,
  autoSuggest: true,
}

const KEY = 'writeup:settings'

const clamp = (v: unknown, lo: number, hi: number, fallback: number) =>
  typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback

/** Reads stored settings, repairing anything missing or out of range. */
export function loadSettings(store: KeyValueStore | null = safeStore()): Settings {
  let raw: Partial<Settings> = {}
  try {
    raw = JSON.parse(store?.getItem(KEY) ?? '{}') ?? {}
  } catch {
    raw = {}
  }
  const d = DEFAULT_SETTINGS
  return {
    model: typeof raw.model === 'string' ? raw.model : null,
    maxTokens: Math.round(clamp(raw.maxTokens, 1, 1000, d.maxTokens)),
    temperature: clamp(raw.temperature, 0, 2, d.temperature),
    n: Math.round(clamp(raw.n, 1, 8, d.n)),
    debounceMs: Math.round(clamp(raw.debounceMs, 100, 3000, d.debounceMs)),
    autoSuggest: typeof raw.autoSuggest === 'boolean' ? raw.autoSuggest : d.autoSuggest,
  }
}

export function saveSettings(settings: Settings, store: KeyValueStore | null = safeStore()): void {
  try {
    store?.setItem(KEY, JSON.stringify(settings))
  } catch {
    // Not remembered this time; the settings still apply to this page.
  }
}

/** The stored model if it is listed and available, else the first available one. */
export function chooseModel(models: ModelInfo[], wanted: string | null): ModelInfo | null {
  const listed = models.find((m) => m.route === wanted)
  if (listed?.available) return listed
  return models.find((m) => m.available) ?? listed ?? models[0] ?? null
}

/** Request params within the model's limits. */
export function requestParams(settings: Settings, model: ModelInfo | null) {
  const limits = model?.limits
  return {
    max_tokens: Math.min(settings.maxTokens, limits?.max_new_tokens ?? settings.maxTokens),
    temperature: settings.temperature,
    n: Math.min(settings.n, limits?.max_n ?? settings.n),
    // A suggestion ends at a blank line: the writer decides on new paragraphs.
    stop: ['\n\n'],
  }
}

function safeStore(): KeyValueStore | null {
  try {
    return globalThis.localStorage ?? null
  } catch {
    return null
  }
}
