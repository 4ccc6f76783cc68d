import { useEffect, useState } from 'react'
import { ApiError } from '../api/client'
import { documents, type SharedDocument } from '../api/documents'

/** The read-only page behind a share link. */
export function SharedPage({ shareId }: { shareId: string }) {
  const [doc, setDoc] = useState<SharedDocument | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    let alive = true
    documents
      .shared(shareId)
      .then((d) => alive && setDoc(d))
      .catch((e) => {
        if (!alive) return
        setError(
          e instanceof ApiError && e.status === 404
            ? 'This piece is not published (any more).'
            : 'The piece cannot be loaded right now. Try again in a moment.',
        )
      })
    return () => {
      alive = false
    }
  }, [shareId])

  useEffect(() => {
    if (doc) document.title = `${doc.title.trim() || 'Untitled'} · writeup`
  }, [doc])

  return (
    <div className="shared">
      <main className="page">
        {error && <p role="alert">{error}</p>}
        {!doc && !error && <p className="hint">Loading…</p>}
        {doc && (
          <article>
            <h1 data-testid="shared-title">{doc.title.trim() || 'Untitled'}</h1>
            <div className="shared-body" data-testid="shared-body">
              {doc.body.split('\n').map((line, i) => (line ? <p key={i}>{line}</p> : <br key={i} />))}
            </div>
            <footer className="hint">
              Published {new Date(doc.published_at).toLocaleDateString()} · written with{' '}
              <a href="/">writeup</a>
            </footer>
          </article>
        )}
      </main>
    </div>
  )
}
