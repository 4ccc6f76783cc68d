/** Saves made in other tabs, as the compose socket announces them (`document_updated`). */
import type { Span } from '../api/spans'
import type { Message } from '../compose/socket'

export interface RemoteUpdate {
  origin?: string | null
  version: number
  title: string
  body: string
  /** Straight off the socket: code point offsets, as the API counts. */
  spans?: Span[]
}

/** A `document_updated` message as a RemoteUpdate, or null if it is not a well-formed one. */
export function remoteUpdate(m: Message): RemoteUpdate | null {
  const { origin, version, title, body, spans } = m
  if (typeof version !== 'number' || typeof title !== 'string' || typeof body !== 'string') return null
  if (spans !== undefined && !Array.isArray(spans)) return null
  return {
    origin: typeof origin === 'string' ? origin : null,
    version,
    title,
    body,
    spans: spans?.filter(isSpan),
  }
}

function isSpan(s: unknown): s is Span {
  if (typeof s !== 'object' || s === null) return false
  const { start, end, model } = s as Record<string, unknown>
  return typeof start === 'number' && typeof end === 'number' && (model == null || typeof model === 'string')
}
