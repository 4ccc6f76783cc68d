import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { RequestContext } from './machine'
import { Prewarmer } from './prewarm'

type Sent = Record<string, unknown>

function setup(initial: Partial<RequestContext> | null = {}) {
  const sent: Sent[] = []
  let connected = true
  let busy = false
  let context: RequestContext | null = initial && {
    model: 'smollm2',
    params: { max_tokens: 20, temperature: 0.8, n: 1 },
    document: 'doc-1',
    maxPromptChars: 200_000,
    ...initial,
  }
  const prewarmer = new Prewarmer({
    send: (m) => {
      if (!connected) return false
      sent.push(m as Sent)
      return true
    },
    context: () => context,
    busy: () => busy,
  })
  prewarmer.start()
  return {
    prewarmer,
    sent,
    setConnected: (c: boolean) => (connected = c),
    setBusy: (b: boolean) => (busy = b),
    setContext: (c: Partial<RequestContext> | null) => (context = c && { ...context!, ...c }),
  }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('prewarm', () => {
  it('prefills an opened draft at once, with the prompt a generate would send', () => {
    const { prewarmer, sent } = setup()
    prewarmer.note('It was a dark and stormy night')
    expect(sent).toEqual([
      { type: 'prewarm', model: 'smollm2', prompt: 'It was a dark and stormy night', document: 'doc-1' },
    ])
  })

  it('follows typing every 3 s, only when the text changed', () => {
    const { prewarmer, sent } = setup()
    prewarmer.note('It was')
    prewarmer.note('It was a')
    prewarmer.note('It was a dark')
    expect(sent).toHaveLength(1)
    vi.advanceTimersByTime(2999)
    expect(sent).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sent.map((m) => m.prompt)).toEqual(['It was', 'It was a dark'])
    vi.advanceTimersByTime(9000) // nothing new typed: nothing sent
    expect(sent).toHaveLength(2)
  })

  it('waits while a suggestion request is in flight', () => {
    const { prewarmer, sent, setBusy } = setup()
    prewarmer.note('Once')
    setBusy(true)
    prewarmer.note('Once upon')
    vi.advanceTimersByTime(6000)
    expect(sent).toHaveLength(1)
    setBusy(false)
    vi.advanceTimersByTime(3000)
    expect(sent.map((m) => m.prompt)).toEqual(['Once', 'Once upon'])
  })

  it('skips text a generate already sent', () => {
    const { prewarmer, sent } = setup()
    prewarmer.note('Once')
    prewarmer.note('Once upon')
    prewarmer.generated({ model: 'smollm2', prompt: 'Once upon', document: 'doc-1' })
    vi.advanceTimersByTime(3000)
    expect(sent).toHaveLength(1)
  })

  it('windows long drafts as a generate does', () => {
    const { prewarmer, sent } = setup()
    const draft = 'x'.repeat(230_000)
    prewarmer.note(draft)
    expect(sent[0].prompt).toBe(draft.slice(50_000))
  })

  it('waits for the model and the connection, then sends at once', () => {
    const { prewarmer, sent, setConnected, setContext } = setup(null)
    prewarmer.note('Draft text')
    expect(sent).toHaveLength(0)
    setConnected(false)
    setContext({ model: 'smollm2', params: { max_tokens: 20, temperature: 0.8, n: 1 }, document: 'doc-1' })
    prewarmer.again()
    expect(sent).toHaveLength(0)
    setConnected(true)
    prewarmer.again() // the socket opened
    expect(sent).toEqual([{ type: 'prewarm', model: 'smollm2', prompt: 'Draft text', document: 'doc-1' }])
  })

  it('sends again at once for another model or draft', () => {
    const { prewarmer, sent, setContext } = setup()
    prewarmer.note('Text')
    setContext({ model: 'poetry' })
    prewarmer.note('Text')
    setContext({ document: 'doc-2' })
    prewarmer.note('Text')
    expect(sent.map((m) => [m.model, m.document])).toEqual([
      ['smollm2', 'doc-1'],
      ['poetry', 'doc-1'],
      ['poetry', 'doc-2'],
    ])
  })

  it('stops', () => {
    const { prewarmer, sent } = setup()
    prewarmer.note('One')
    prewarmer.stop()
    prewarmer.note('One two')
    vi.advanceTimersByTime(10_000)
    expect(sent).toHaveLength(1)
  })
})
