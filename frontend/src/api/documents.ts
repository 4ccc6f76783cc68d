import { ApiError, api, type RequestOptions } from './client'
import { spansFromApi, spansToApi, type Span } from './spans'

export type Visibility = 'private' | 'unlisted' | 'public'

/** A draft as the app sees it: spans in editor (UTF-16) offsets. */
export interface DocumentRecord {
  id: string
  title: string
  body: string
  version: number
  created_at: string
  updated_at: string
  share_id: string | null
  published: boolean
  visibility?: Visibility
  spans?: Span[]
  /** Hidden by moderators: out of the gallery, its link dead. */
  hidden?: boolean
}

export interface Piece {
  share_id: string
  url: string
  title: string
  body: string
  spans: Span[]
  genre: string
  author: string | null
  visibility: Exclude<Visibility, 'private'>
  published_at: string
  listed_at: string | null
  score: number
  votes: { up: number; down: number }
  my_vote: 1 | -1 | null
}

/** Kept for the share page's older name. */
export type SharedDocument = Piece

export interface DocumentChanges {
  title?: string
  body?: string
  spans?: Span[]
}

export interface Published {
  share_id: string
  share_url: string
  visibility: Exclude<Visibility, 'private'>
}

export type ExportFormat = 'md' | 'txt'

const base = '/api/documents/'

/** Accepts a plain list or a DRF page, so pagination can be turned on later. */
function items<T>(data: T[] | { results: T[] }): T[] {
  return Array.isArray(data) ? data : data.results
}

const fromWire = <T extends { body: string; spans?: Span[] }>(doc: T): T =>
  doc && { ...doc, spans: spansFromApi(doc.body, doc.spans) }

function toWire(changes: DocumentChanges): DocumentChanges {
  if (changes.spans === undefined || changes.body === undefined) {
    const { spans: _dropped, ...rest } = changes
    return rest
  }
  return { ...changes, spans: spansToApi(changes.body, changes.spans) }
}

export const documents = {
  list: async () => items(await api.get<DocumentRecord[] | { results: DocumentRecord[] }>(base)).map(fromWire),
  get: async (id: string) => fromWire(await api.get<DocumentRecord>(`${base}${id}/`)),
  create: async (changes: DocumentChanges) => fromWire(await api.post<DocumentRecord>(base, toWire(changes))),
  update: async (
    id: string,
    changes: DocumentChanges & { version: number; origin?: string },
    options?: RequestOptions,
  ) => {
    try {
      return fromWire(await api.patch<DocumentRecord>(`${base}${id}/`, toWire(changes), options))
    } catch (e) {
      // A 409 carries the current draft; its spans need the same conversion.
      const conflict = e instanceof ApiError ? (e.body as { current?: DocumentRecord } | null) : null
      if (conflict?.current) conflict.current = fromWire(conflict.current)
      throw e
    }
  },
  remove: (id: string) => api.delete<null>(`${base}${id}/`),
  publish: (id: string, visibility?: Exclude<Visibility, 'private'>) =>
    api.post<Published>(`${base}${id}/publish/`, visibility ? { visibility } : {}),
  unpublish: (id: string) => api.delete<null>(`${base}${id}/publish/`),
  shared: async (shareId: string) => fromWire(await api.get<Piece>(`/api/shared/${encodeURIComponent(shareId)}/`)),
  exportUrl: (id: string, format: ExportFormat, highlight = false) =>
    `${base}${id}/export.${format}${highlight ? '?highlight=1' : ''}`,
  sharedExportUrl: (shareId: string, format: ExportFormat, highlight = false) =>
    `/api/shared/${encodeURIComponent(shareId)}/export.${format}${highlight ? '?highlight=1' : ''}`,
}
