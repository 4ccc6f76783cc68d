import { describe, expect, it } from 'vitest'
import { forgetLocal, readLocal, writeLocal, type ListableStore, type LocalDraft } from './localCopy'

function memory(): ListableStore & { data: Map<string, string> } {
  const data = new Map<string, string>()
  return {
    data,
    get length() {
      return data.size
    },
    key: (i) => [...data.keys()][i] ?? null,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  }
}

const draft = (id: string | null, dirty: boolean): LocalDraft => ({
  id,
  title: 't',
  body: 'b',
  spans: [],
  baseVersion: 1,
  dirty,
  updatedAt: 0,
})

describe('forgetLocal', () => {
  it('drops saved copies on sign-out and keeps text the server has not got', () => {
    const s = memory()
    writeLocal(draft('a', false), s)
    writeLocal(draft('b', true), s)
    writeLocal(draft(null, false), s)
    s.setItem('writeup:settings', '{}')
    expect(forgetLocal({}, s)).toBe(1)
    expect(readLocal('a', s)).toBeNull()
    expect(readLocal(null, s)).toBeNull()
    expect(readLocal('b', s)?.dirty).toBe(true)
    expect(s.getItem('writeup:settings')).toBe('{}')
  })

  it('drops everything when the account is deleted', () => {
    const s = memory()
    writeLocal(draft('b', true), s)
    expect(forgetLocal({ everything: true }, s)).toBe(0)
    expect(s.data.size).toBe(0)
  })
})
