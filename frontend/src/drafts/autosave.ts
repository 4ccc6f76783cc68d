/**
 * Autosave of one draft: a debounced PATCH carrying the version last seen,
 * retried with backoff while the server is away, and a version conflict
 * resolved without losing the text typed here. Framework-free.
 */
import { ApiError } from '../api/client'
import type { DocumentRecord } from '../api/documents'
import type { Span } from '../api/spans'
import { backoffDelay } from '../compose/socket'

export type SaveStatus = 'saved' | 'unsaved' | 'saving' | 'offline' | 'error'

export interface Snapshot {
  title: string
  body: string
  /** Accepted-suggestion spans of `body`; saved with it. */
  spans?: Span[]
}

export interface SaveState {
  status: SaveStatus
  id: string | null
  version: number | null
  /** A sentence for the writer when status is offline or error. */
  message: string | null
  /** The draft is gone from the server (deleted in another tab). */
  gone: boolean
}

export interface SaveApi {
  create(snapshot: Snapshot): Promise<DocumentRecord>
  update(id: string, changes: Snapshot & { version: number }): Promise<DocumentRecord>
}

type Timer = ReturnType<typeof setTimeout>

export interface AutosaveOptions {
  delayMs?: number
  onSaved?: (doc: DocumentRecord) => void
  /** Another tab saved different text meanwhile; ours wins, theirs is handed over to keep. */
  onConflict?: (theirs: DocumentRecord, ours: Snapshot) => void
  setTimer?: (fn: () => void, ms: number) => Timer
  clearTimer?: (timer: Timer) => void
}

const RETRY = { baseMs: 1000, maxMs: 30000, factor: 2, jitter: 0.1 }
const MAX_CONFLICTS_IN_A_ROW = 3

const sameSpans = (a: Span[] = [], b: Span[] = []) =>
  a.length === b.length && a.every((s, i) => s.start === b[i].start && s.end === b[i].end && s.model === b[i].model)

export const sameSnapshot = (a: Snapshot | null, b: Snapshot | null) =>
  !!a && !!b && a.title === b.title && a.body === b.body && sameSpans(a.spans, b.spans)

/** The same text, whatever its highlights (what matters for a conflict). */
export const sameText = (a: Snapshot | null, b: Snapshot | null) =>
  !!a && !!b && a.title === b.title && a.body === b.body

export class Autosaver {
  private state: SaveState
  private saved: Snapshot
  private pending: Snapshot | null = null
  private inFlight: Promise<void> | null = null
  private timer: Timer | null = null
  private failures = 0
  private conflicts = 0
  private disposed = false
  private listeners = new Set<(state: SaveState) => void>()
  private readonly delayMs: number
  private readonly setTimer: NonNullable<AutosaveOptions['setTimer']>
  private readonly clearTimer: NonNullable<AutosaveOptions['clearTimer']>

  constructor(
    initial: { id: string | null; version: number | null } & Snapshot,
    private readonly saveApi: SaveApi,
    private readonly options: AutosaveOptions = {},
  ) {
    this.saved = { title: initial.title, body: initial.body, spans: initial.spans ?? [] }
    this.state = { status: 'saved', id: initial.id, version: initial.version, message: null, gone: false }
    this.delayMs = options.delayMs ?? 800
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms))
    this.clearTimer = options.clearTimer ?? ((t) => clearTimeout(t))
  }

  getState = (): SaveState => this.state

  subscribe = (listener: (state: SaveState) => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  hasUnsavedChanges(): boolean {
    return this.pending !== null || this.inFlight !== null
  }

  /** The writer changed something; save after a pause. */
  change(snapshot: Snapshot): void {
    if (this.disposed) return
    if (sameSnapshot(snapshot, this.saved) && !this.inFlight) {
      this.pending = null
      this.cancelTimer()
      if (!this.state.gone) this.update({ status: 'saved', message: null })
      return
    }
    this.pending = snapshot
    if (this.state.gone) return
    // While the server is away a retry is already scheduled; typing should not hammer it.
    if (this.state.status === 'offline' || this.state.status === 'error') return
    if (!this.inFlight) this.update({ status: 'unsaved' })
    this.schedule(this.delayMs)
  }

  /** Text restored from this browser: save it even if it looks like what we have. */
  markUnsaved(snapshot: Snapshot): void {
    if (this.disposed) return
    this.pending = snapshot
    this.update({ status: 'unsaved' })
    this.schedule(0)
  }

  /** Save now (Ctrl+S, leaving the page); resolves when this attempt ends. */
  flush(): Promise<void> {
    this.cancelTimer()
    return this.run()
  }

  /** Text saved elsewhere (another tab) becomes ours, if we have nothing unsaved. */
  adopt(doc: Pick<DocumentRecord, 'version' | 'title' | 'body' | 'spans'>): boolean {
    if (this.hasUnsavedChanges() || (this.state.version !== null && doc.version <= this.state.version)) return false
    this.saved = { title: doc.title, body: doc.body, spans: doc.spans ?? [] }
    this.update({ version: doc.version, status: 'saved', message: null })
    return true
  }

  /** After the draft vanished from the server: keep the text as a new draft. */
  saveAsNew(snapshot: Snapshot): Promise<void> {
    this.pending = snapshot
    this.update({ id: null, version: null, gone: false, status: 'unsaved', message: null })
    return this.flush()
  }

  dispose(): void {
    this.disposed = true
    this.cancelTimer()
    this.listeners.clear()
  }

  private run(): Promise<void> {
    if (this.inFlight) return this.inFlight
    if (!this.pending || this.disposed || this.state.gone) return Promise.resolve()
    const snapshot = this.pending
    this.update({ status: 'saving' })
    this.inFlight = this.attempt(snapshot).finally(() => {
      this.inFlight = null
      this.afterAttempt()
    })
    return this.inFlight
  }

  private async attempt(snapshot: Snapshot): Promise<void> {
    const { id, version } = this.state
    try {
      const doc =
        id === null ? await this.saveApi.create(snapshot) : await this.saveApi.update(id, { ...snapshot, version: version ?? 0 })
      this.saved = snapshot
      this.failures = 0
      this.conflicts = 0
      if (sameSnapshot(this.pending, snapshot)) this.pending = null
      this.update({ id: doc.id, version: doc.version, message: null })
      this.options.onSaved?.(doc)
    } catch (e) {
      this.handleFailure(e, snapshot)
    }
  }

  private handleFailure(e: unknown, snapshot: Snapshot): void {
    const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e))
    const current = (err.body as { current?: DocumentRecord } | null)?.current
    if (err.status === 409 && current && this.conflicts < MAX_CONFLICTS_IN_A_ROW) {
      this.conflicts += 1
      const theirs = { title: current.title, body: current.body, spans: current.spans ?? [] }
      // Only different text is worth keeping as a copy; highlights alone are not.
      if (!sameText(theirs, this.saved) && !sameText(theirs, snapshot)) {
        this.options.onConflict?.(current, snapshot)
      }
      this.saved = theirs
      this.update({ version: current.version })
      return
    }
    if (err.status === 404) {
      this.update({ status: 'error', gone: true, message: 'This draft was deleted elsewhere. Your text is kept on this device.' })
      return
    }
    this.failures += 1
    this.update({
      status: err.isTransient ? 'offline' : 'error',
      message: err.isTransient ? 'Offline: your text is kept on this device and will be saved when the server is back.' : `Not saved: ${err.message}`,
    })
  }

  private afterAttempt(): void {
    if (this.disposed) return
    if (this.state.gone) return
    if (this.failures > 0) {
      this.schedule(backoffDelay(this.failures - 1, RETRY))
      return
    }
    if (this.pending && sameSnapshot(this.pending, this.saved)) this.pending = null
    if (this.pending) {
      // A conflict resolved or more typing arrived during the save: go again.
      this.update({ status: 'unsaved' })
      this.schedule(this.conflicts > 0 ? 0 : this.delayMs)
    } else {
      this.update({ status: 'saved', message: null })
    }
  }

  private schedule(ms: number): void {
    this.cancelTimer()
    this.timer = this.setTimer(() => {
      this.timer = null
      void this.run()
    }, ms)
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clearTimer(this.timer)
    this.timer = null
  }

  private update(patch: Partial<SaveState>): void {
    this.state = { ...this.state, ...patch }
    for (const listener of this.listeners) listener(this.state)
  }
}
