import { api } from './client'
import type { Piece } from './documents'

export type GallerySort = 'new' | 'top'

export type PieceCard = Omit<Piece, 'body' | 'spans'> & { excerpt: string }

export interface GalleryPage {
  count: number
  page: number
  pages: number
  next: string | null
  previous: string | null
  genres: string[]
  results: PieceCard[]
}

export interface VoteResult {
  score: number
  votes: { up: number; down: number }
  my_vote: 1 | -1 | null
}

const piece = (shareId: string) => `/api/shared/${encodeURIComponent(shareId)}`

export const gallery = {
  page: (sort: GallerySort, genre: string, page: number) =>
    api.get<GalleryPage>(`/api/gallery/?${new URLSearchParams({ sort, genre, page: String(page) })}`),
  /** 1 up, -1 down, 0 takes the vote back. */
  vote: (shareId: string, value: 1 | -1 | 0) => api.post<VoteResult>(`${piece(shareId)}/vote/`, { value }),
  flag: (shareId: string, reason: string) => api.post<{ flagged: boolean }>(`${piece(shareId)}/flag/`, { reason }),
}
