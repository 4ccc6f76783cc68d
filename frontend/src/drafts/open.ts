/**
 * What to show when a draft is opened, from the server's copy (or why there is
 * none) and this browser's copy. Pure, so every case is unit-tested.
 */
import type { ApiError } from '../api/client'
import type { DocumentRecord, Visibility } from '../api/documents'
import type { Value } from '../editor/schema'
import { sameSnapshot, sameText, type Snapshot } from './autosave'
import { emptyValue, fromBody } from './body'
import type { LocalDraft } from './localCopy'

export type OpenPlan =
  | { kind: 'missing' }
  | { kind: 'failed' }
  | {
      kind: 'ready'
      title: string
      value: Value
      /** What autosave starts from: the server's id, version and text as far as known. */
      base: { id: string | null; version: number | null } & Snapshot
      /** The shown text came from this browser and must be saved. */
      restore: boolean
      message: string | null
      /** A server version the restored text overwrites; keep it as a copy. */
      keepOther: DocumentRecord | null
      /** A local copy to drop (it moves to a new draft). */
      forget: string | null
      published: boolean
      shareId: string | null
      visibility: Visibility
      hidden: boolean
    }

export function planOpen(
  routeId: string | null,
  server: DocumentRecord | null,
  failure: ApiError | null,
  local: LocalDraft | null,
): OpenPlan {
  const fromLocal = (d: LocalDraft) => ({ title: d.title, value: fromBody(d.body, d.spans) })
  const ready = {
    restore: false,
    message: null,
    keepOther: null,
    forget: null,
    published: false,
    shareId: null,
    visibility: 'private' as Visibility,
    hidden: false,
  }

  if (server) {
    // A server from before spans were saved sends none: keep this browser's while the text matches.
    const serverSpans = server.spans ?? (local && sameText(local, server) ? local.spans : [])
    const theirs = { title: server.title, body: server.body, spans: serverSpans }
    const base = { id: server.id, version: server.version, ...theirs }
    const share = {
      published: server.published,
      shareId: server.share_id,
      visibility: server.visibility ?? (server.published ? 'unlisted' : 'private'),
      hidden: server.hidden ?? false,
    }
    if (local?.dirty && !sameSnapshot(local, theirs)) {
      return {
        kind: 'ready',
        ...ready,
        ...share,
        ...fromLocal(local),
        base,
        restore: true,
        message: 'Restored text from this browser that had not reached the server yet.',
        // The server moved on since this browser's text was based on it.
        keepOther: local.baseVersion !== server.version ? server : null,
      }
    }
    return { kind: 'ready', ...ready, ...share, title: server.title, value: fromBody(server.body, serverSpans), base }
  }

  if (routeId === null || failure?.status === 404) {
    const base = { id: null, version: null, title: '', body: '' }
    if (local?.dirty) {
      return {
        kind: 'ready',
        ...ready,
        ...fromLocal(local),
        base,
        restore: true,
        forget: routeId,
        message:
          routeId === null
            ? 'Restored text you had not saved yet.'
            : 'This draft is no longer on the server; the copy from this browser will be saved as a new draft.',
      }
    }
    if (routeId === null) return { kind: 'ready', ...ready, title: '', value: emptyValue(), base }
    return { kind: 'missing' }
  }

  if (local) {
    // The server is away: write on from this browser's copy; autosave retries.
    return {
      kind: 'ready',
      ...ready,
      ...fromLocal(local),
      base: { id: routeId, version: local.baseVersion, title: local.title, body: local.body, spans: local.spans },
      restore: local.dirty,
      message: 'The server cannot be reached. Showing the copy kept in this browser.',
    }
  }
  return { kind: 'failed' }
}
