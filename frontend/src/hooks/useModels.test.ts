import { describe, expect, it } from 'vitest'
import type { ModelInfo } from '../api/models'
import { REFRESH_MS, REFRESH_WHILE_DOWN_MS, refreshDelay } from './useModels'

const model = (route: string, available: boolean): ModelInfo => ({
  route,
  name: route,
  genre: 'general',
  description: '',
  available,
  reason: available ? 'ready' : 'restarting',
  limits: { max_new_tokens: 64, max_n: 4, context: 512, max_prompt_chars: 4000 },
})

describe('refreshDelay', () => {
  it('asks every 10 s while every model is up', () => {
    expect(refreshDelay([model('a', true), model('b', true)])).toBe(REFRESH_MS)
    expect(REFRESH_MS).toBe(10000)
  })
  it('asks sooner while a model is down, so its return shows quickly', () => {
    expect(refreshDelay([model('a', true), model('b', false)])).toBe(REFRESH_WHILE_DOWN_MS)
    expect(REFRESH_WHILE_DOWN_MS).toBeLessThan(REFRESH_MS)
  })
})
