/**
 * The browser's own copy of each draft, written on every change, so nothing
 * typed is lost to a reload, a dropped connection or a server restart.
 */
import type { SuggestedSpan } from './body'

export interface LocalDraft {
  id: string | null
  title: string
  body: string
  spans: SuggestedSpan[]
  /** Server version the local text was based on; null for a draft never saved. */
  baseVersion: number | null
  /** True while the server has not got this text yet. */
  dirty: boolean
  updatedAt: number
}

export interface KeyValueStore {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

const PREFIX = 'writeup:draft:'
const key = (id: string | null) => PREFIX + (id ?? 'new')

function store(): KeyValueStore | null {
  try {
    return globalThis.localStorage ?? null
  } catch {
    // Storage can be disabled (privacy settings); drafts then live on the server only.
    return null
  }
}

export function readLocal(id: string | null, s: KeyValueStore | null = store()): LocalDraft | null {
  const raw = s?.getItem(key(id))
  if (!raw) return null
  try {
    const draft = JSON.parse(raw) as LocalDraft
    return typeof draft.body === 'string' ? draft : null
  } catch {
    return null
  }
}

export function writeLocal(draft: LocalDraft, s: KeyValueStore | null = store()): void {
  try {
    s?.setItem(key(draft.id), JSON.stringify(draft))
  } catch {
    // Quota full: the server copy still stands; nothing better to do here.
  }
}

export function removeLocal(id: string | null, s: KeyValueStore | null = store()): void {
  s?.removeItem(key(id))
}

/** A draft typed before it had a server id moves under its id once created. */
export function moveLocal(to: string, s: KeyValueStore | null = store()): void {
  const draft = readLocal(null, s)
  if (!draft) return
  removeLocal(null, s)
  writeLocal({ ...draft, id: to }, s)
}

/** What an enumerable store adds (localStorage has it). */
export interface ListableStore extends KeyValueStore {
  readonly length: number
  key(index: number): string | null
}

/**
 * Drop this browser's copies of drafts on signing out (so the next person at
 * this computer does not find them) — except text the server has not got
 * yet, which is kept rather than lost; `everything` drops that too (the
 * account is being deleted). Returns how many unsaved copies stay.
 */
export function forgetLocal(
  { everything = false } = {},
  s: ListableStore | null = store() as ListableStore | null,
): number {
  if (!s) return 0
  const keys: string[] = []
  for (let i = 0; i < s.length; i++) {
    const k = s.key(i)
    if (k?.startsWith(PREFIX)) keys.push(k)
  }
  let kept = 0
  for (const k of keys) {
    const draft = readLocal(k.slice(PREFIX.length) === 'new' ? null : k.slice(PREFIX.length), s)
    if (draft?.dirty && !everything) kept += 1
    else s.removeItem(k)
  }
  return kept
}
