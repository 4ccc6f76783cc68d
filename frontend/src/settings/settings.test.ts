import { describe, expect, it } from 'vitest'
import type { ModelInfo } from '../api/models'
import { chooseModel, DEFAULT_SETTINGS, loadSettings, requestParams, saveSettings } from './settings'

function memory() {
  const m = new Map<string, string>()
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  }
}

const limits = { max_new_tokens: 50, max_n: 2, context: 2048, max_prompt_chars: 40000 }
const model = (route: string, available = true): ModelInfo => ({
  route,
  name: route,
  genre: 'general',
  description: '',
  available,
  reason: available ? '' : 'weights not found',
  limits,
})

describe('settings', () => {
  it('round-trips through storage and repairs bad values', () => {
    const s = memory()
    expect(loadSettings(s)).toEqual(DEFAULT_SETTINGS)
    saveSettings({ ...DEFAULT_SETTINGS, model: 'poetry', temperature: 1.2 }, s)
    expect(loadSettings(s)).toMatchObject({ model: 'poetry', temperature: 1.2 })
    s.setItem('writeup:settings', '{"temperature": 9, "n": "x"}')
    expect(loadSettings(s)).toMatchObject({ temperature: 2, n: DEFAULT_SETTINGS.n })
    s.setItem('writeup:settings', 'not json')
    expect(loadSettings(s)).toEqual(DEFAULT_SETTINGS)
  })

  it('keeps the chosen model when available, else falls back', () => {
    const models = [model('gpt2', false), model('smollm2'), model('poetry')]
    expect(chooseModel(models, 'poetry')?.route).toBe('poetry')
    expect(chooseModel(models, 'gpt2')?.route).toBe('smollm2')
    expect(chooseModel(models, null)?.route).toBe('smollm2')
  })

  it('caps request params at the model limits', () => {
    const p = requestParams({ ...DEFAULT_SETTINGS, maxTokens: 80, n: 3 }, model('x'))
    expect(p).toMatchObject({ max_tokens: 50, n: 2 })
  })
})
