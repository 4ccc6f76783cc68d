/**
 * The suggestion state machine: when to ask the model, what it answered, what
 * the writer accepted. It knows nothing about React, Slate or WebSockets: the
 * editor feeds it the text before the cursor and key intents, the socket feeds
 * it server messages, and it sends through a function it is given.
 */
import { humanMessage, SILENT_CODES, TRANSIENT_CODES } from '../compose/errors'
import { promptWindow } from './window'
import { nextWord, trimLeadingSpace } from './words'

export type Phase = 'idle' | 'waiting' | 'streaming' | 'ready' | 'error'

export interface SuggestParams {
  max_tokens: number
  temperature: number
  n: number
  top_k?: number
  top_p?: number
  stop?: string[]
}

/** What a request needs that the machine does not own; null = cannot ask now. */
export interface RequestContext {
  model: string
  params: SuggestParams
  document?: string | null
  /** The model's `limits.max_prompt_chars`; longer text is windowed (window.ts). */
  maxPromptChars?: number
}

export interface SuggestionError {
  code: string
  message: string
}

export interface SuggestionState {
  phase: Phase
  requestId: string | null
  /** Text before the cursor that the alternatives continue. */
  prompt: string
  /** What the writer typed or accepted since, matching the active alternative. */
  typed: string
  alternatives: string[]
  finished: boolean[]
  active: number
  /** Route of the model that wrote the alternatives (for the accepted-text mark). */
  model: string | null
  error: SuggestionError | null
}

export interface ServerMessage {
  type: string
  id?: string | null
  index?: number
  text?: string
  code?: string
  message?: string
  finish_reason?: string
}

type Timer = ReturnType<typeof setTimeout>

export interface MachineOptions {
  send: (message: object) => boolean
  context: () => RequestContext | null
  debounceMs?: number
  retryMs?: number
  newId?: () => string
  setTimer?: (fn: () => void, ms: number) => Timer
  clearTimer?: (timer: Timer) => void
}

export interface EditOptions {
  /** False where a suggestion should not pop up by itself (mid-paragraph, off). */
  auto?: boolean
}

const EMPTY: SuggestionState = {
  phase: 'idle',
  requestId: null,
  prompt: '',
  typed: '',
  alternatives: [],
  finished: [],
  active: 0,
  model: null,
  error: null,
}

let counter = 0
const defaultId = () => `s${Date.now().toString(36)}-${(++counter).toString(36)}`

export class SuggestionMachine {
  private state: SuggestionState = EMPTY
  private listeners = new Set<(state: SuggestionState) => void>()
  private timer: Timer | null = null
  /** The prompt a debounce is waiting to send. */
  private pending: string | null = null
  /** The text before the cursor last seen, so selection-only changes are no-ops. */
  private lastPrompt: string | null = null
  private retried = false
  private readonly send: MachineOptions['send']
  private readonly context: MachineOptions['context']
  private readonly retryMs: number
  private readonly newId: () => string
  private readonly setTimer: NonNullable<MachineOptions['setTimer']>
  private readonly clearTimer: NonNullable<MachineOptions['clearTimer']>
  debounceMs: number

  constructor(options: MachineOptions) {
    this.send = options.send
    this.context = options.context
    this.debounceMs = options.debounceMs ?? 400
    this.retryMs = options.retryMs ?? 1000
    this.newId = options.newId ?? defaultId
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
    this.clearTimer = options.clearTimer ?? ((t) => clearTimeout(t))
  }

  getState = (): SuggestionState => this.state

  subscribe = (listener: (state: SuggestionState) => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The grey text to show at the cursor: what is left of the active alternative. */
  ghost(): string {
    return remaining(this.state, this.state.active) ?? ''
  }

  /** Alternatives still consistent with what was typed, with what is left of each. */
  options(): { index: number; text: string }[] {
    const out: { index: number; text: string }[] = []
    this.state.alternatives.forEach((_, index) => {
      const text = remaining(this.state, index)
      if (text !== null && (text !== '' || !this.state.finished[index])) out.push({ index, text })
    })
    return out
  }

  /** The text before the cursor changed (typing, deleting, moving) or may have. */
  edit(prompt: string, { auto = true }: EditOptions = {}): void {
    if (prompt === this.lastPrompt) return
    this.lastPrompt = prompt
    if (this.followsSuggestion(prompt)) return
    this.reset()
    if (auto) this.schedule(prompt, this.debounceMs)
    else this.emit()
  }

  /** Ask right away (Ctrl+Space), whatever the pause or the auto setting. */
  requestNow(prompt: string): void {
    this.lastPrompt = prompt
    this.reset()
    this.start(prompt)
  }

  /** Same prompt, new model or settings: ask again if anything was on screen. */
  restart(): void {
    const { phase, prompt, typed } = this.state
    const current = this.pending ?? prompt + typed
    const wasActive = phase !== 'idle'
    this.reset()
    if (wasActive) this.start(current)
    else this.emit()
  }

  dismiss(): void {
    const { phase } = this.state
    if (phase === 'idle' && this.timer === null) return
    this.reset()
    this.emit()
  }

  /** Tab: returns the whole remaining suggestion to insert, or null if none. */
  acceptAll(): string | null {
    const text = this.ghost()
    if (!text) return null
    this.reset()
    // What follows an acceptance is new text, so the next pause asks again.
    this.lastPrompt = null
    this.emit()
    return text
  }

  /** Ctrl/Cmd+Right: returns the next word of the suggestion, keeping the rest. */
  acceptWord(): string | null {
    const rest = this.ghost()
    if (!rest) return null
    const word = nextWord(rest)
    const typed = this.state.typed + word
    this.lastPrompt = this.state.prompt + typed
    if (word === rest && this.state.finished[this.state.active]) {
      this.reset()
      this.lastPrompt = null
      this.emit()
    } else {
      this.update({ typed })
    }
    return word
  }

  /** A click in the side panel: returns the remaining text of alternative `index`. */
  pick(index: number): string | null {
    const text = remaining(this.state, index)
    if (!text) return null
    this.reset()
    this.lastPrompt = null
    this.emit()
    return text
  }

  /** Alt+] / Alt+[: move through the alternatives that still fit. */
  cycle(step: 1 | -1): void {
    const indices = this.options().map((o) => o.index)
    if (indices.length < 2) return
    const at = Math.max(0, indices.indexOf(this.state.active))
    const next = indices[(at + step + indices.length) % indices.length]
    this.update({ active: next })
  }

  receive(message: ServerMessage): void {
    const s = this.state
    if (!message.id || message.id !== s.requestId) return
    const index = message.index ?? 0
    if (message.type === 'token') {
      const alternatives = [...s.alternatives]
      const finished = [...s.finished]
      while (alternatives.length <= index) {
        alternatives.push('')
        finished.push(false)
      }
      const piece = message.text ?? ''
      alternatives[index] += alternatives[index] === '' ? trimLeadingSpace(s.prompt, piece) : piece
      this.update({ alternatives, finished, active: this.pickActive(alternatives, s.active) })
    } else if (message.type === 'done') {
      const finished = [...s.finished]
      finished[index] = true
      const allDone = finished.every(Boolean)
      if (allDone && s.alternatives.every((a) => a === '')) {
        this.reset()
        this.emit()
        return
      }
      this.update({
        finished,
        phase: allDone ? 'ready' : s.phase,
        requestId: allDone ? null : s.requestId,
      })
    } else if (message.type === 'error') {
      this.fail(message.code ?? 'internal_error', message.message)
    }
  }

  /** The socket closed: no more messages will come for the request in flight. */
  connectionLost(): void {
    const s = this.state
    if (s.phase !== 'streaming') return
    const finished = s.finished.map(() => true)
    const hasText = s.alternatives.some((a) => a !== '')
    this.update({
      phase: hasText ? 'ready' : 'error',
      requestId: null,
      finished,
      error: { code: 'connection_lost', message: humanMessage('connection_lost') },
    })
  }

  destroy(): void {
    this.reset()
    this.listeners.clear()
  }

  private followsSuggestion(prompt: string): boolean {
    const s = this.state
    if (s.alternatives.length === 0 || !prompt.startsWith(s.prompt)) return false
    const typed = prompt.slice(s.prompt.length)
    const candidates = [s.active, ...s.alternatives.keys()]
    const fits = candidates.find((i) => {
      const alt = s.alternatives[i]
      return alt.startsWith(typed) && (alt.length > typed.length || !s.finished[i])
    })
    if (fits === undefined) return false
    this.update({ typed, active: fits })
    return true
  }

  private pickActive(alternatives: string[], active: number): number {
    if (alternatives[active]) return active
    const found = alternatives.findIndex((a) => a !== '')
    return found === -1 ? active : found
  }

  private schedule(prompt: string, ms: number): void {
    this.pending = prompt
    this.timer = this.setTimer(() => {
      this.timer = null
      this.pending = null
      this.start(prompt)
    }, ms)
    this.update({ phase: 'waiting' })
  }

  private start(prompt: string): void {
    const context = this.context()
    if (!context) {
      this.emit()
      return
    }
    const id = this.newId()
    const message: Record<string, unknown> = {
      type: 'generate',
      id,
      model: context.model,
      prompt: promptWindow(prompt, context.maxPromptChars),
      params: context.params,
    }
    if (context.document) message.document = context.document
    if (!this.send(message)) {
      this.state = { ...EMPTY, phase: 'error', prompt, error: { code: 'offline', message: humanMessage('offline') } }
      this.emit()
      return
    }
    const n = context.params.n
    this.state = {
      ...EMPTY,
      phase: 'streaming',
      requestId: id,
      prompt,
      model: context.model,
      alternatives: Array(n).fill(''),
      finished: Array(n).fill(false),
    }
    this.emit()
  }

  private fail(code: string, serverMessage?: string): void {
    const s = this.state
    if (SILENT_CODES.has(code)) return
    const error = { code, message: humanMessage(code, serverMessage) }
    const hasText = s.alternatives.some((a) => a !== '')
    if (TRANSIENT_CODES.has(code) && !hasText && !this.retried) {
      this.retried = true
      const prompt = s.prompt + s.typed
      this.state = { ...EMPTY, error }
      this.schedule(prompt, this.retryMs)
      return
    }
    this.update({
      phase: hasText ? 'ready' : 'error',
      requestId: null,
      finished: s.finished.map(() => true),
      error,
    })
  }

  /** Cancels whatever is pending or in flight and forgets the suggestion. */
  private reset(): void {
    if (this.timer !== null) {
      this.clearTimer(this.timer)
      this.timer = null
    }
    this.pending = null
    const { requestId, phase } = this.state
    if (requestId && phase === 'streaming') this.send({ type: 'cancel', id: requestId })
    this.retried = false
    this.state = EMPTY
  }

  private update(patch: Partial<SuggestionState>): void {
    this.state = { ...this.state, ...patch }
    this.emit()
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.state)
  }
}

function remaining(s: SuggestionState, index: number): string | null {
  const alt = s.alternatives[index]
  if (alt === undefined || !alt.startsWith(s.typed)) return null
  return alt.slice(s.typed.length)
}
