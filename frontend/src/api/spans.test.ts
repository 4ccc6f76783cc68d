import { describe, expect, it } from 'vitest'
import { MAX_SPANS, spansFromApi, spansToApi } from './spans'

describe('spans on the wire', () => {
  it('is the identity for text without astral characters', () => {
    const spans = [{ start: 2, end: 5, model: 'smollm2' }]
    expect(spansToApi('Hello world', spans)).toEqual(spans)
    expect(spansFromApi('Hello world', spans)).toEqual(spans)
  })

  it('counts an emoji as one character for the API and two in the editor', () => {
    const body = 'Poems 🌹 bloom' // the rose is two UTF-16 units
    expect(body.slice(9, 14)).toBe('bloom')
    const api = spansToApi(body, [{ start: 6, end: 8, model: null }, { start: 9, end: 14, model: 'poetry' }])
    expect(api).toEqual([
      { start: 6, end: 7, model: null },
      { start: 8, end: 13, model: 'poetry' },
    ])
    expect([...body].slice(8, 13).join('')).toBe('bloom')
    expect(spansFromApi(body, api)).toEqual([
      { start: 6, end: 8, model: null },
      { start: 9, end: 14, model: 'poetry' },
    ])
  })

  it('drops what the server would refuse instead of failing the save', () => {
    const api = spansToApi('abcdef', [
      { start: 4, end: 9, model: 'a b' },
      { start: 0, end: 2, model: 'ok' },
      { start: 1, end: 3, model: 'ok' },
      { start: 3, end: 3, model: 'ok' },
    ])
    expect(api).toEqual([
      { start: 0, end: 2, model: 'ok' },
      { start: 2, end: 3, model: 'ok' },
      { start: 4, end: 6, model: null },
    ])
    const many = Array.from({ length: MAX_SPANS + 5 }, (_, i) => ({ start: 2 * i, end: 2 * i + 1, model: null }))
    expect(spansToApi('x'.repeat(3 * MAX_SPANS), many)).toHaveLength(MAX_SPANS)
  })

  it('clips spans from the API that run past the text', () => {
    expect(spansFromApi('abc', [{ start: 1, end: 10, model: 'm' }, { start: 5, end: 6, model: 'm' }])).toEqual([
      { start: 1, end: 3, model: 'm' },
    ])
    expect(spansFromApi('abc', undefined)).toEqual([])
  })
})
