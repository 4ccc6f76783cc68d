import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { backoffDelay, ComposeSocket, DEFAULT_BACKOFF, type SocketLike } from './socket'

class FakeSocket implements SocketLike {
  readyState = 0
  sent: string[] = []
  closed = false
  onopen: ((ev: unknown) => void) | null = null
  onclose: ((ev: unknown) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: unknown }) => void) | null = null
  send(data: string) {
    this.sent.push(data)
  }
  close() {
    this.closed = true
    this.readyState = 3
  }
  open() {
    this.readyState = 1
    this.onopen?.({})
  }
  drop() {
    this.readyState = 3
    this.onerror?.({})
    this.onclose?.({})
  }
  message(data: unknown) {
    this.onmessage?.({ data: typeof data === 'string' ? data : JSON.stringify(data) })
  }
}

function setup() {
  const sockets: FakeSocket[] = []
  const client = new ComposeSocket('ws://test/ws/compose/', {
    createSocket: () => {
      const s = new FakeSocket()
      sockets.push(s)
      return s
    },
    random: () => 0.5, // no jitter: nominal delays
    stableMs: 5000,
  })
  const last = () => sockets[sockets.length - 1]
  return { client, sockets, last }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('backoffDelay', () => {
  it('doubles from the base up to the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, DEFAULT_BACKOFF, () => 0.5))
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000])
  })

  it('spreads delays by the jitter and never past the cap', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(800)
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 1)).toBe(1200)
    expect(backoffDelay(10, DEFAULT_BACKOFF, () => 1)).toBe(15000)
  })
})

describe('ComposeSocket', () => {
  it('reports connecting, then open, and sends only while open', () => {
    const { client, last } = setup()
    const states: string[] = []
    client.onStatus((s) => states.push(s.state))
    client.start()
    expect(client.send({ type: 'x' })).toBe(false)
    last().open()
    expect(client.send({ type: 'x' })).toBe(true)
    expect(last().sent).toEqual(['{"type":"x"}'])
    expect(states).toEqual(['connecting', 'open'])
  })

  it('reconnects with growing delays while the server stays down', () => {
    const { client, sockets, last } = setup()
    client.start()
    last().drop()
    expect(client.getStatus()).toMatchObject({ state: 'waiting', attempt: 1 })
    vi.advanceTimersByTime(499)
    expect(sockets).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(2)
    last().drop()
    vi.advanceTimersByTime(999)
    expect(sockets).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(3)
    last().drop()
    vi.advanceTimersByTime(2000)
    expect(sockets).toHaveLength(4)
  })

  it('starts the backoff over once a connection has stayed up', () => {
    const { client, sockets, last } = setup()
    client.start()
    last().drop()
    vi.advanceTimersByTime(500)
    last().drop()
    vi.advanceTimersByTime(1000)
    last().open()
    vi.advanceTimersByTime(5000)
    expect(client.getStatus().attempt).toBe(0)
    last().drop()
    vi.advanceTimersByTime(500)
    expect(sockets).toHaveLength(4)
  })

  it('keeps backing off when connections drop right after opening', () => {
    const { client, sockets, last } = setup()
    client.start()
    last().open()
    last().drop()
    vi.advanceTimersByTime(500)
    last().open()
    last().drop()
    vi.advanceTimersByTime(999)
    expect(sockets).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(3)
  })

  it('retries at once on request', () => {
    const { client, sockets, last } = setup()
    client.start()
    last().drop()
    client.retryNow()
    expect(sockets).toHaveLength(2)
    expect(client.getStatus().state).toBe('connecting')
  })

  it('re-sends watch after every reconnect', () => {
    const { client, last } = setup()
    client.start()
    client.watch('doc-1')
    last().open()
    expect(last().sent).toEqual(['{"type":"watch","document":"doc-1"}'])
    last().drop()
    vi.advanceTimersByTime(500)
    last().open()
    expect(last().sent).toEqual(['{"type":"watch","document":"doc-1"}'])
    client.watch('doc-2')
    expect(last().sent.slice(1)).toEqual([
      '{"type":"unwatch","document":"doc-1"}',
      '{"type":"watch","document":"doc-2"}',
    ])
  })

  it('hands parsed messages to listeners and skips garbage', () => {
    const { client, last } = setup()
    const got: unknown[] = []
    client.onMessage((m) => got.push(m))
    client.start()
    last().open()
    last().message({ type: 'token', id: 'r1', index: 0, text: ' hi' })
    last().message('not json')
    last().message('[1,2]')
    expect(got).toEqual([{ type: 'token', id: 'r1', index: 0, text: ' hi' }])
  })

  it('stops for good: no reconnect after stop', () => {
    const { client, sockets, last } = setup()
    client.start()
    last().open()
    client.stop()
    expect(last().closed).toBe(true)
    vi.advanceTimersByTime(60000)
    expect(sockets).toHaveLength(1)
    expect(client.getStatus().state).toBe('stopped')
  })
})
