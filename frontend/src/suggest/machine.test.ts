import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SuggestionMachine, type RequestContext } from './machine'

type Sent = Record<string, unknown>

function setup(context: Partial<RequestContext> | null = {}, options: { connected?: boolean } = {}) {
  const sent: Sent[] = []
  let ids = 0
  let connected = options.connected ?? true
  const machine = new SuggestionMachine({
    send: (m) => {
      if (!connected) return false
      sent.push(m as Sent)
      return true
    },
    context: () =>
      context && {
        model: 'smollm2',
        params: { max_tokens: 20, temperature: 0.8, n: 1 },
        document: 'doc-1',
        ...context,
      },
    newId: () => `r${++ids}`,
  })
  const generates = () => sent.filter((m) => m.type === 'generate')
  const cancels = () => sent.filter((m) => m.type === 'cancel')
  const token = (id: string, text: string, index = 0) => machine.receive({ type: 'token', id, index, text })
  const done = (id: string, index = 0) => machine.receive({ type: 'done', id, index, finish_reason: 'length' })
  return { machine, sent, generates, cancels, token, done, setConnected: (c: boolean) => (connected = c) }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('debounce', () => {
  it('asks once after a pause, with the text before the cursor', () => {
    const { machine, generates } = setup()
    machine.edit('Once')
    vi.advanceTimersByTime(200)
    machine.edit('Once upon')
    vi.advanceTimersByTime(399)
    expect(generates()).toHaveLength(0)
    expect(machine.getState().phase).toBe('waiting')
    vi.advanceTimersByTime(1)
    expect(generates()).toEqual([
      {
        type: 'generate',
        id: 'r1',
        model: 'smollm2',
        prompt: 'Once upon',
        document: 'doc-1',
        params: { max_tokens: 20, temperature: 0.8, n: 1 },
      },
    ])
    expect(machine.getState().phase).toBe('streaming')
  })

  it('uses a configurable pause', () => {
    const { machine, generates } = setup()
    machine.debounceMs = 1000
    machine.edit('Hello')
    vi.advanceTimersByTime(999)
    expect(generates()).toHaveLength(0)
    vi.advanceTimersByTime(1)
    expect(generates()).toHaveLength(1)
  })

  it('ignores changes that leave the text before the cursor as it was', () => {
    const { machine, generates } = setup()
    machine.edit('Hello')
    vi.advanceTimersByTime(300)
    machine.edit('Hello')
    vi.advanceTimersByTime(100)
    expect(generates()).toHaveLength(1)
  })

  it('does not ask by itself when auto is off, but asks at once on request', () => {
    const { machine, generates } = setup()
    machine.edit('Hello', { auto: false })
    vi.advanceTimersByTime(5000)
    expect(generates()).toHaveLength(0)
    expect(machine.getState().phase).toBe('idle')
    machine.requestNow('Hello')
    expect(generates()).toHaveLength(1)
  })

  it('sends the whole text up to the model limit', () => {
    const { machine, generates } = setup({ maxPromptChars: 200_000 })
    const text = 'word '.repeat(39_000)
    machine.requestNow(text)
    expect(generates()[0].prompt).toBe(text)
  })

  it('cuts a longer text at a stable boundary, not a moving one', () => {
    const { machine, generates } = setup({ maxPromptChars: 200_000 })
    const draft = 'x'.repeat(230_000)
    machine.requestNow(draft)
    machine.requestNow(draft + 'more')
    const [first, second] = generates().map((m) => m.prompt as string)
    expect(first).toBe(draft.slice(50_000))
    expect(second).toBe((draft + 'more').slice(50_000)) // same start: the cached prefix still matches
  })

  it('does nothing without a model', () => {
    const { machine, sent } = setup(null)
    machine.edit('Hello')
    vi.advanceTimersByTime(1000)
    expect(sent).toHaveLength(0)
  })
})

describe('streaming', () => {
  it('appends tokens per alternative and finishes when every alternative is done', () => {
    const { machine, token, done } = setup({ params: { max_tokens: 20, temperature: 0.8, n: 2 } })
    machine.requestNow('The cat')
    token('r1', ' sat')
    token('r1', ' ran', 1)
    token('r1', ' on')
    expect(machine.getState().alternatives).toEqual([' sat on', ' ran'])
    expect(machine.ghost()).toBe(' sat on')
    done('r1', 0)
    expect(machine.getState().phase).toBe('streaming')
    done('r1', 1)
    expect(machine.getState().phase).toBe('ready')
    expect(machine.getState().requestId).toBeNull()
  })

  it('ignores messages of other requests', () => {
    const { machine, token } = setup()
    machine.requestNow('A')
    token('old', ' stale')
    expect(machine.ghost()).toBe('')
  })

  it('drops the leading space after a space so words do not double up', () => {
    const { machine, token } = setup()
    machine.requestNow('The cat ')
    token('r1', ' ')
    token('r1', ' sat')
    token('r1', ' down')
    expect(machine.ghost()).toBe('sat down')
  })

  it('goes back to idle when the model says nothing', () => {
    const { machine, done } = setup()
    machine.requestNow('A')
    done('r1')
    expect(machine.getState().phase).toBe('idle')
  })
})

describe('typing on', () => {
  it('cancels the request in flight and starts the pause over', () => {
    const { machine, token, cancels, generates } = setup()
    machine.requestNow('The cat')
    token('r1', ' sat')
    machine.edit('The cats')
    expect(cancels()).toEqual([{ type: 'cancel', id: 'r1' }])
    expect(machine.ghost()).toBe('')
    expect(machine.getState().phase).toBe('waiting')
    vi.advanceTimersByTime(400)
    expect(generates().map((g) => g.prompt)).toEqual(['The cat', 'The cats'])
  })

  it('cancels a pending pause without sending anything', () => {
    const { machine, sent } = setup()
    machine.edit('The')
    machine.dismiss()
    vi.advanceTimersByTime(1000)
    expect(sent).toHaveLength(0)
  })

  it('keeps the suggestion when the writer types what it says', () => {
    const { machine, token, cancels } = setup()
    machine.requestNow('The cat')
    token('r1', ' sat on')
    machine.edit('The cat s')
    expect(cancels()).toHaveLength(0)
    expect(machine.ghost()).toBe('at on')
    token('r1', ' the mat')
    expect(machine.ghost()).toBe('at on the mat')
  })

  it('does not cancel a finished request', () => {
    const { machine, token, done, cancels } = setup()
    machine.requestNow('A')
    token('r1', ' b')
    done('r1')
    machine.edit('Ax')
    expect(cancels()).toHaveLength(0)
  })

  it('cancels on delete (the text before the cursor got shorter)', () => {
    const { machine, token, cancels } = setup()
    machine.requestNow('The cat')
    token('r1', ' sat')
    machine.edit('The ca')
    expect(cancels()).toHaveLength(1)
  })
})

describe('accepting', () => {
  it('Tab takes the whole remaining suggestion and stops the stream', () => {
    const { machine, token, cancels, generates } = setup()
    machine.requestNow('The cat')
    token('r1', ' sat on')
    machine.edit('The cat s')
    expect(machine.acceptAll()).toBe('at on')
    expect(cancels()).toEqual([{ type: 'cancel', id: 'r1' }])
    expect(machine.getState().phase).toBe('idle')
    // The inserted text is new text: the next pause asks again.
    machine.edit('The cat sat on')
    vi.advanceTimersByTime(400)
    expect(generates()).toHaveLength(2)
  })

  it('returns null when there is nothing to accept', () => {
    const { machine } = setup()
    expect(machine.acceptAll()).toBeNull()
    expect(machine.acceptWord()).toBeNull()
  })

  it('Ctrl+Right takes one word at a time and keeps the rest', () => {
    const { machine, token, done, cancels } = setup()
    machine.requestNow('The cat')
    token('r1', ' sat on the')
    expect(machine.acceptWord()).toBe(' sat')
    // The editor inserts the word, which reports the new text before the cursor.
    machine.edit('The cat sat')
    expect(machine.ghost()).toBe(' on the')
    expect(cancels()).toHaveLength(0)
    expect(machine.acceptWord()).toBe(' on')
    machine.edit('The cat sat on')
    done('r1')
    expect(machine.acceptWord()).toBe(' the')
    expect(machine.getState().phase).toBe('idle')
  })

  it('Esc dismisses and the same text does not ask again', () => {
    const { machine, token, cancels, generates } = setup()
    machine.edit('The cat')
    vi.advanceTimersByTime(400)
    token('r1', ' sat')
    machine.dismiss()
    expect(cancels()).toHaveLength(1)
    expect(machine.ghost()).toBe('')
    machine.edit('The cat')
    vi.advanceTimersByTime(1000)
    expect(generates()).toHaveLength(1)
  })
})

describe('alternatives', () => {
  const n3 = { params: { max_tokens: 20, temperature: 0.8, n: 3 } }

  it('cycles forwards and backwards', () => {
    const { machine, token } = setup(n3)
    machine.requestNow('Hi')
    token('r1', ' one')
    token('r1', ' two', 1)
    token('r1', ' three', 2)
    machine.cycle(1)
    expect(machine.ghost()).toBe(' two')
    machine.cycle(1)
    machine.cycle(1)
    expect(machine.ghost()).toBe(' one')
    machine.cycle(-1)
    expect(machine.ghost()).toBe(' three')
  })

  it('lists the alternatives and a click picks one', () => {
    const { machine, token } = setup(n3)
    machine.requestNow('Hi')
    token('r1', ' one')
    token('r1', ' two', 1)
    expect(machine.options()).toEqual([
      { index: 0, text: ' one' },
      { index: 1, text: ' two' },
      { index: 2, text: '' },
    ])
    expect(machine.pick(1)).toBe(' two')
    expect(machine.getState().phase).toBe('idle')
  })

  it('shows the first alternative that has text', () => {
    const { machine, token } = setup(n3)
    machine.requestNow('Hi')
    token('r1', ' two', 1)
    expect(machine.ghost()).toBe(' two')
  })

  it('switches to an alternative that fits what the writer typed', () => {
    const { machine, token, cancels } = setup(n3)
    machine.requestNow('Hi')
    token('r1', ' one')
    token('r1', ' two', 1)
    token('r1', ' three', 2)
    machine.edit('Hi t')
    expect(cancels()).toHaveLength(0)
    expect(machine.ghost()).toBe('wo')
    expect(machine.options().map((o) => o.text)).toEqual(['wo', 'hree'])
  })
})

describe('errors', () => {
  it('shows a human message and keeps the socket usable', () => {
    const { machine, generates } = setup()
    machine.requestNow('Hi')
    machine.receive({ type: 'error', id: 'r1', code: 'model_unavailable', message: 'down' })
    const s = machine.getState()
    expect(s.phase).toBe('error')
    expect(s.error?.code).toBe('model_unavailable')
    expect(s.error?.message).toMatch(/not available/)
    machine.edit('Hi there')
    expect(machine.getState().error).toBeNull()
    vi.advanceTimersByTime(400)
    expect(generates()).toHaveLength(2)
  })

  it('retries once after busy, then gives up', () => {
    const { machine, generates } = setup()
    machine.requestNow('Hi')
    machine.receive({ type: 'error', id: 'r1', code: 'busy', message: 'queue full' })
    expect(machine.getState().error?.code).toBe('busy')
    vi.advanceTimersByTime(1000)
    expect(generates().map((g) => g.id)).toEqual(['r1', 'r2'])
    machine.receive({ type: 'error', id: 'r2', code: 'busy', message: 'queue full' })
    vi.advanceTimersByTime(5000)
    expect(generates()).toHaveLength(2)
    expect(machine.getState().phase).toBe('error')
  })

  it('keeps text that arrived before an error', () => {
    const { machine, token } = setup()
    machine.requestNow('Hi')
    token('r1', ' there')
    machine.receive({ type: 'error', id: 'r1', code: 'timeout' })
    expect(machine.getState().phase).toBe('ready')
    expect(machine.acceptAll()).toBe(' there')
  })

  it('falls back to the server sentence for unknown codes', () => {
    const { machine } = setup()
    machine.requestNow('Hi')
    machine.receive({ type: 'error', id: 'r1', code: 'brand_new', message: 'Something new.' })
    expect(machine.getState().error?.message).toBe('Something new.')
  })

  it('says offline when the socket is down', () => {
    const { machine, setConnected } = setup()
    setConnected(false)
    machine.requestNow('Hi')
    expect(machine.getState().phase).toBe('error')
    expect(machine.getState().error?.code).toBe('offline')
  })

  it('ends the stream when the connection drops', () => {
    const { machine, token } = setup()
    machine.requestNow('Hi')
    token('r1', ' there')
    machine.connectionLost()
    expect(machine.getState().phase).toBe('ready')
    expect(machine.getState().error?.code).toBe('connection_lost')
    expect(machine.ghost()).toBe(' there')
  })
})

describe('restart', () => {
  it('asks again at once for the same text (model switched)', () => {
    const { machine, token, generates, cancels } = setup()
    machine.requestNow('Hi')
    token('r1', ' there')
    machine.restart()
    expect(cancels()).toHaveLength(1)
    expect(generates().map((g) => g.prompt)).toEqual(['Hi', 'Hi'])
  })

  it('stays quiet when nothing was on screen', () => {
    const { machine, sent } = setup()
    machine.restart()
    expect(sent).toHaveLength(0)
  })
})
