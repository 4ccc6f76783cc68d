/**
 * The compose WebSocket of one tab: connects, reconnects with exponential
 * backoff, re-sends `watch` after every reconnect, and hands parsed messages
 * to whoever listens. Framework-free; the socket and timers are injectable.
 */

export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'stopped'

export interface ConnectionStatus {
  state: ConnectionState
  /** Failed attempts in a row; 0 once a connection has stayed up. */
  attempt: number
  /** When `waiting`, the epoch ms of the next try. */
  retryAt: number | null
}

export interface BackoffOptions {
  baseMs: number
  maxMs: number
  factor: number
  /** 0.2 = each delay is drawn from ±20% around the nominal value. */
  jitter: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 15000, factor: 2, jitter: 0.2 }

/** Delay before reconnect attempt number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const nominal = Math.min(options.maxMs, options.baseMs * options.factor ** attempt)
  // Jitter keeps many tabs from reconnecting in lockstep after a server restart.
  const jittered = nominal * (1 - options.jitter + 2 * options.jitter * random())
  return Math.round(Math.min(options.maxMs, jittered))
}

/** The subset of the browser WebSocket this client uses. */
export interface SocketLike {
  readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((ev: unknown) => void) | null
  onclose: ((ev: unknown) => void) | null
  onerror: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
}

const OPEN = 1

type Timer = ReturnType<typeof setTimeout>

export interface ComposeSocketOptions {
  createSocket?: (url: string) => SocketLike
  backoff?: BackoffOptions
  /** A connection must stay up this long before the backoff starts over. */
  stableMs?: number
  random?: () => number
  now?: () => number
  setTimer?: (fn: () => void, ms: number) => Timer
  clearTimer?: (timer: Timer) => void
}

export type Message = { type: string; [key: string]: unknown }

export class ComposeSocket {
  private socket: SocketLike | null = null
  private status: ConnectionStatus = { state: 'stopped', attempt: 0, retryAt: null }
  private retryTimer: Timer | null = null
  private stableTimer: Timer | null = null
  private watched: string | null = null
  private messageListeners = new Set<(message: Message) => void>()
  private statusListeners = new Set<(status: ConnectionStatus) => void>()
  private readonly createSocket: (url: string) => SocketLike
  private readonly backoff: BackoffOptions
  private readonly stableMs: number
  private readonly random: () => number
  private readonly now: () => number
  private readonly setTimer: (fn: () => void, ms: number) => Timer
  private readonly clearTimer: (timer: Timer) => void

  constructor(
    private readonly url: string,
    options: ComposeSocketOptions = {},
  ) {
    this.createSocket = options.createSocket ?? ((u) => new WebSocket(u) as unknown as SocketLike)
    this.backoff = options.backoff ?? DEFAULT_BACKOFF
    this.stableMs = options.stableMs ?? 5000
    this.random = options.random ?? Math.random
    this.now = options.now ?? Date.now
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
    this.clearTimer = options.clearTimer ?? ((t) => clearTimeout(t))
  }

  getStatus = (): ConnectionStatus => this.status

  onStatus = (listener: (status: ConnectionStatus) => void): (() => void) => {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  onMessage = (listener: (message: Message) => void): (() => void) => {
    this.messageListeners.add(listener)
    return () => this.messageListeners.delete(listener)
  }

  start(): void {
    if (this.status.state !== 'stopped') return
    this.connect()
  }

  stop(): void {
    this.clearTimers()
    const socket = this.socket
    this.socket = null
    if (socket) {
      detach(socket)
      socket.close(1000, 'page closed')
    }
    this.setStatus({ state: 'stopped', attempt: 0, retryAt: null })
  }

  /** Skip the rest of the backoff wait (the Retry button, the browser coming online). */
  retryNow(): void {
    if (this.status.state !== 'waiting') return
    this.clearTimers()
    this.connect()
  }

  /** Sends now or not at all: a suggestion is stale by the time a socket is back. */
  send(message: object): boolean {
    if (!this.socket || this.socket.readyState !== OPEN || this.status.state !== 'open') return false
    this.socket.send(JSON.stringify(message))
    return true
  }

  /** Follow saves of this document made elsewhere (one at a time); remembered across reconnects. */
  watch(documentId: string | null): void {
    if (documentId === this.watched) return
    const previous = this.watched
    this.watched = documentId
    // The server caps watches per socket; a reconnect starts from none anyway.
    if (previous) this.send({ type: 'unwatch', document: previous })
    if (documentId) this.send({ type: 'watch', document: documentId })
  }

  private connect(): void {
    this.setStatus({ ...this.status, state: 'connecting', retryAt: null })
    let socket: SocketLike
    try {
      socket = this.createSocket(this.url)
    } catch {
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.setStatus({ ...this.status, state: 'open', retryAt: null })
      this.stableTimer = this.setTimer(() => {
        this.stableTimer = null
        this.setStatus({ ...this.status, attempt: 0 })
      }, this.stableMs)
      if (this.watched) this.send({ type: 'watch', document: this.watched })
    }
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return
      let message: unknown
      try {
        message = JSON.parse(event.data)
      } catch {
        return
      }
      if (!message || typeof message !== 'object' || typeof (message as Message).type !== 'string') return
      for (const listener of this.messageListeners) listener(message as Message)
    }
    // A failed connect fires error then close; close alone decides what's next.
    socket.onerror = () => {}
    socket.onclose = () => {
      if (this.socket !== socket) return
      detach(socket)
      this.socket = null
      this.scheduleReconnect()
    }
  }

  private scheduleReconnect(): void {
    this.clearTimers()
    const attempt = this.status.attempt
    const delay = backoffDelay(attempt, this.backoff, this.random)
    this.setStatus({ state: 'waiting', attempt: attempt + 1, retryAt: this.now() + delay })
    this.retryTimer = this.setTimer(() => {
      this.retryTimer = null
      this.connect()
    }, delay)
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer)
    if (this.stableTimer !== null) this.clearTimer(this.stableTimer)
    this.retryTimer = null
    this.stableTimer = null
  }

  private setStatus(status: ConnectionStatus): void {
    this.status = status
    for (const listener of this.statusListeners) listener(status)
  }
}

function detach(socket: SocketLike): void {
  socket.onopen = socket.onclose = socket.onerror = null
  socket.onmessage = null
}

/** The compose endpoint of the page's own origin. */
export function composeUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/compose/`
}
