/**
 * Prewarm: while the writer reads or types, ask the model to prefill the text
 * before the cursor into this writer's cache, so that at the pause only the
 * last few words are new and the first suggestion comes fast. It sends
 * exactly the prompt a `generate` would send at that moment, as soon as a
 * draft is open (or the model, document or connection changes), then at most
 * every few seconds while the text changes, and never while a suggestion
 * request is in flight (it prefills the same text anyway). The server
 * answers nothing to it. Framework-free; timers are injectable.
 */
import type { RequestContext } from './machine'
import { promptWindow } from './window'

type Timer = ReturnType<typeof setTimeout>

export interface PrewarmOptions {
  send: (message: object) => boolean
  context: () => RequestContext | null
  /** A suggestion request is in flight. */
  busy: () => boolean
  everyMs?: number
  setTimer?: (fn: () => void, ms: number) => Timer
  clearTimer?: (timer: Timer) => void
}

export const PREWARM_EVERY_MS = 3000

export class Prewarmer {
  /** Text before the cursor, as last seen. */
  private text: string | null = null
  /** Model + document the last prewarm (or generate) was for. */
  private sentScope: string | null = null
  private sentPrompt: string | null = null
  private timer: Timer | null = null
  private readonly send: PrewarmOptions['send']
  private readonly context: PrewarmOptions['context']
  private readonly busy: PrewarmOptions['busy']
  private readonly everyMs: number
  private readonly setTimer: NonNullable<PrewarmOptions['setTimer']>
  private readonly clearTimer: NonNullable<PrewarmOptions['clearTimer']>

  constructor(options: PrewarmOptions) {
    this.send = options.send
    this.context = options.context
    this.busy = options.busy
    this.everyMs = options.everyMs ?? PREWARM_EVERY_MS
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
    this.clearTimer = options.clearTimer ?? ((t) => clearTimeout(t))
  }

  /** Check every few seconds until stop(). */
  start(): void {
    if (this.timer !== null) return
    const tick = () => {
      this.timer = this.setTimer(tick, this.everyMs)
      this.flush()
    }
    this.timer = this.setTimer(tick, this.everyMs)
  }

  stop(): void {
    if (this.timer !== null) this.clearTimer(this.timer)
    this.timer = null
  }

  /** The text before the cursor now. A draft, model or document not yet
   * prewarmed is sent at once; further typing waits for the next tick. */
  note(text: string): void {
    this.text = text
    const context = this.context()
    if (context && scopeOf(context) !== this.sentScope) this.flush()
  }

  /** Send if there is text the model has not been given yet; true if sent. */
  flush(): boolean {
    const context = this.context()
    if (!context || this.text === null || this.busy()) return false
    const prompt = promptWindow(this.text, context.maxPromptChars)
    const scope = scopeOf(context)
    if (scope === this.sentScope && prompt === this.sentPrompt) return false
    const message: Record<string, unknown> = { type: 'prewarm', model: context.model, prompt }
    if (context.document) message.document = context.document
    if (!this.send(message)) return false
    this.sentScope = scope
    this.sentPrompt = prompt
    return true
  }

  /** A `generate` went out: it prefills its prompt, so that text is warm. */
  generated(message: { model?: unknown; prompt?: unknown; document?: unknown }): void {
    if (typeof message.model !== 'string' || typeof message.prompt !== 'string') return
    this.sentScope = scopeOf({ model: message.model, document: (message.document as string | undefined) ?? null })
    this.sentPrompt = message.prompt
  }

  /** A new connection (or a new model or draft): send the current text again at once. */
  again(): void {
    this.sentScope = this.sentPrompt = null
    this.flush()
  }
}

function scopeOf(context: Pick<RequestContext, 'model' | 'document'>): string {
  return `${context.model}\u0000${context.document ?? ''}`
}
