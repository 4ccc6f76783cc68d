import { useEffect, useState } from 'react'
import { gallery, type GalleryPage as Page, type GallerySort } from '../api/gallery'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { VoteButtons } from '../components/VoteButtons'
import { useTitle } from '../hooks/useTitle'
import { useSession } from '../session/useSession'

interface Query {
  sort: GallerySort
  genre: string
  page: number
}

function readQuery(search: string): Query {
  const q = new URLSearchParams(search)
  const page = Number.parseInt(q.get('page') ?? '1', 10)
  return {
    sort: q.get('sort') === 'top' ? 'top' : 'new',
    genre: q.get('genre') ?? '',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  }
}

function writeQuery(q: Query): void {
  const params = new URLSearchParams()
  if (q.sort !== 'new') params.set('sort', q.sort)
  if (q.genre) params.set('genre', q.genre)
  if (q.page > 1) params.set('page', String(q.page))
  const search = params.toString()
  // The address reflects the view (so it can be shared) without a history entry per click.
  history.replaceState(null, '', `/gallery${search ? `?${search}` : ''}`)
}

/** Public pieces, newest or top, by genre, a page at a time. */
export function GalleryPage() {
  const [query, setQuery] = useState<Query>(() => readQuery(location.search))
  const [data, setData] = useState<Page | null>(null)
  const [error, setError] = useState<string | null>(null)
  const { loaded, user } = useSession()
  useTitle('Gallery')

  useEffect(() => {
    let alive = true
    writeQuery(query)
    setError(null)
    gallery
      .page(query.sort, query.genre, query.page)
      .then((d) => alive && setData(d))
      .catch((e) => alive && setError(e instanceof Error ? e.message : 'The gallery cannot be loaded right now.'))
    return () => {
      alive = false
    }
  }, [query])

  const set = (patch: Partial<Query>) => {
    setQuery((q) => ({ ...q, page: 1, ...patch }))
    window.scrollTo(0, 0)
  }

  return (
    <div className="gallery-page">
      <PageHeader />
      <main className="page wide">
        <h1>Gallery</h1>
        <div className="gallery-controls">
          <div className="tabs" role="group" aria-label="Order">
            <button type="button" data-testid="gallery-sort-new" aria-pressed={query.sort === 'new'} onClick={() => set({ sort: 'new' })}>
              Newest
            </button>
            <button type="button" data-testid="gallery-sort-top" aria-pressed={query.sort === 'top'} onClick={() => set({ sort: 'top' })}>
              Top
            </button>
          </div>
          <label>
            Genre{' '}
            <select data-testid="genre-filter" value={query.genre} onChange={(e) => set({ genre: e.target.value })}>
              <option value="">All</option>
              {[...new Set([...(data?.genres ?? []), ...(query.genre ? [query.genre] : [])])].map((g) => (
                <option key={g} value={g}>
                  {g}
                </option>
              ))}
            </select>
          </label>
        </div>
        {error && <p role="alert">{error}</p>}
        {!data && !error && <p className="hint">Loading…</p>}
        {data && data.results.length === 0 && (
          <p className="hint">
            Nothing here yet. <Link href="/">Write something</Link> and publish it to the gallery.
          </p>
        )}
        <ol className="gallery-list" data-testid="gallery-list">
          {data?.results.map((p) => (
            <li key={p.share_id} className="card" data-testid="gallery-item" data-share-id={p.share_id}>
              {loaded && (
                <VoteButtons
                  key={`${p.share_id}:${p.score}:${p.my_vote}`}
                  shareId={p.share_id}
                  score={p.score}
                  myVote={p.my_vote}
                  blocked={!user ? 'signIn' : p.author === user.username ? 'own' : null}
                />
              )}
              <div className="card-body">
                <h2>
                  <Link href={p.url} data-testid="gallery-item-link">
                    {p.title.trim() || 'Untitled'}
                  </Link>
                </h2>
                <p className="hint">
                  {p.author ? `by ${p.author} · ` : ''}
                  {p.genre ? `${p.genre} · ` : ''}
                  {new Date(p.listed_at ?? p.published_at).toLocaleDateString()}
                </p>
                <p className="excerpt">{p.excerpt}</p>
              </div>
            </li>
          ))}
        </ol>
        {data && data.pages > 1 && (
          <nav className="pager row" aria-label="Pages">
            <button type="button" data-testid="gallery-prev" disabled={!data.previous} onClick={() => set({ page: data.page - 1 })}>
              ← Previous
            </button>
            <span>
              Page {data.page} of {data.pages}
            </span>
            <button type="button" data-testid="gallery-next" disabled={!data.next} onClick={() => set({ page: data.page + 1 })}>
              Next →
            </button>
          </nav>
        )}
      </main>
    </div>
  )
}
