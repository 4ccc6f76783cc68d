import { api, type RequestOptions } from './client'

export interface DocumentRecord {
  id: string
  title: string
  body: string
  version: number
  created_at: string
  updated_at: string
  share_id: string | null
  published: boolean
}

export interface SharedDocument {
  title: string
  body: string
  published_at: string
}

export interface DocumentChanges {
  title?: string
  body?: string
}

const base = '/api/documents/'

/** Accepts a plain list or a DRF page, so pagination can be turned on later. */
function items<T>(data: T[] | { results: T[] }): T[] {
  return Array.isArray(data) ? data : data.results
}

export const documents = {
  list: async () => items(await api.get<DocumentRecord[] | { results: DocumentRecord[] }>(base)),
  get: (id: string) => api.get<DocumentRecord>(`${base}${id}/`),
  create: (changes: DocumentChanges) => api.post<DocumentRecord>(base, changes),
  update: (id: string, changes: DocumentChanges & { version: number; origin?: string }, options?: RequestOptions) =>
    api.patch<DocumentRecord>(`${base}${id}/`, changes, options),
  remove: (id: string) => api.delete<null>(`${base}${id}/`),
  publish: (id: string) => api.post<{ share_id: string; share_url: string }>(`${base}${id}/publish/`),
  unpublish: (id: string) => api.delete<null>(`${base}${id}/publish/`),
  shared: (shareId: string) => api.get<SharedDocument>(`/api/shared/${encodeURIComponent(shareId)}/`),
}
