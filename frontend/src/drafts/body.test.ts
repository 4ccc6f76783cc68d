import { describe, expect, it } from 'vitest'
import { fromBody, suggestedSpans, toBody } from './body'
import type { Value } from '../editor/schema'

const value: Value = [
  { type: 'paragraph', children: [{ text: 'It was ' }, { text: 'a dark night', suggested: true, model: 'smollm2' }] },
  { type: 'paragraph', children: [{ text: '' }] },
  { type: 'paragraph', children: [{ text: 'and', suggested: true, model: 'poetry' }, { text: ' more.' }] },
]

describe('body', () => {
  it('joins paragraphs with newlines', () => {
    expect(toBody(value)).toBe('It was a dark night\n\nand more.')
  })

  it('records accepted suggestions as spans of the body', () => {
    const body = toBody(value)
    const spans = suggestedSpans(value)
    expect(spans).toEqual([
      { start: 7, end: 19, model: 'smollm2' },
      { start: 21, end: 24, model: 'poetry' },
    ])
    expect(spans.map((s) => body.slice(s.start, s.end))).toEqual(['a dark night', 'and'])
  })

  it('round-trips text and marks', () => {
    const back = fromBody(toBody(value), suggestedSpans(value))
    expect(back).toEqual(value)
  })

  it('splits a span that crosses a paragraph break', () => {
    const v = fromBody('ab\ncd', [{ start: 1, end: 4, model: null }])
    expect(v).toEqual([
      { type: 'paragraph', children: [{ text: 'a' }, { text: 'b', suggested: true }] },
      { type: 'paragraph', children: [{ text: 'c', suggested: true }, { text: 'd' }] },
    ])
  })

  it('reads an empty body as one empty paragraph', () => {
    expect(fromBody('')).toEqual([{ type: 'paragraph', children: [{ text: '' }] }])
  })
})
