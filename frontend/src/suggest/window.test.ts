import { describe, expect, it } from 'vitest'
import { promptWindow, WINDOW_STEP } from './window'

describe('promptWindow', () => {
  it('keeps the whole text up to the limit', () => {
    expect(promptWindow('abc', 200_000)).toBe('abc')
    expect(promptWindow('x'.repeat(200_000), 200_000)).toHaveLength(200_000)
    expect(promptWindow('abc')).toBe('abc')
  })

  it('starts a longer text at a multiple of the step, the same one while the writer types', () => {
    const starts = new Set<number>()
    for (let length = 200_001; length <= 250_000; length += 7_001) {
      const text = 'y'.repeat(length)
      const kept = promptWindow(text, 200_000)
      const start = length - kept.length
      expect(start % WINDOW_STEP).toBe(0)
      expect(kept.length).toBeLessThanOrEqual(200_000)
      starts.add(start)
    }
    expect([...starts]).toEqual([WINDOW_STEP])
    // Past the next boundary the start moves once, by a whole step.
    expect(250_001 - promptWindow('y'.repeat(250_001), 200_000).length).toBe(2 * WINDOW_STEP)
  })

  it('steps by a quarter of a small limit, so most of it is always sent', () => {
    const text = 'z'.repeat(4_001)
    const kept = promptWindow(text, 4_000)
    expect(kept).toHaveLength(3_001)
    expect(promptWindow('z'.repeat(4_999), 4_000)).toHaveLength(3_999)
  })

  it('never starts inside a surrogate pair', () => {
    const emoji = '😀' // two UTF-16 units
    const text = 'a' + emoji.repeat(2_500) // the step boundary at 1,000 falls inside a pair
    const kept = promptWindow(text, 4_000)
    expect(kept.length).toBeLessThanOrEqual(4_000)
    expect(kept.codePointAt(0)).toBe(emoji.codePointAt(0))
    expect(() => encodeURIComponent(kept)).not.toThrow() // no lone surrogate
  })
})
