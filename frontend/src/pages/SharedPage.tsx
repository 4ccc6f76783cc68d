import { useEffect, useState } from 'react'
import { ApiError } from '../api/client'
import { documents, type Piece } from '../api/documents'
import { ExportMenu } from '../components/ExportMenu'
import { FlagButton } from '../components/FlagButton'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { PieceText } from '../components/PieceText'
import { VoteButtons } from '../components/VoteButtons'
import { useHighlight } from '../hooks/useHighlight'
import { useTitle } from '../hooks/useTitle'
import { useSession } from '../session/useSession'

/** The read-only page behind a share link (and every piece in the gallery). */
export function SharedPage({ shareId }: { shareId: string }) {
  const [doc, setDoc] = useState<Piece | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [highlight, setHighlight] = useHighlight()
  const { loaded, user } = useSession()

  useEffect(() => {
    let alive = true
    setDoc(null)
    setError(null)
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

  useTitle(doc ? doc.title.trim() || 'Untitled' : error ? 'Not published' : null)

  const blocked = !user
    ? 'signIn'
    : doc?.author === user.username
      ? 'own'
      : doc?.visibility !== 'public'
        ? 'unlisted'
        : null

  return (
    <div className="shared">
      <PageHeader />
      <main className={highlight ? 'page show-accepted' : 'page'}>
        {error && <p role="alert">{error}</p>}
        {!doc && !error && <p className="hint">Loading…</p>}
        {doc && (
          <article>
            <h1 data-testid="shared-title">{doc.title.trim() || 'Untitled'}</h1>
            <p className="byline hint">
              {doc.author ? <>by {doc.author} · </> : null}
              {doc.genre ? <>{doc.genre} · </> : null}
              published {new Date(doc.published_at).toLocaleDateString()}
              {doc.visibility === 'public' && (
                <>
                  {' '}
                  · in the <Link href="/gallery">gallery</Link>
                </>
              )}
            </p>
            <div className="piece-tools">
              {doc.visibility === 'public' && loaded && (
                <VoteButtons key={shareId} shareId={shareId} score={doc.score} myVote={doc.my_vote} blocked={blocked} />
              )}
              <ExportMenu source={{ kind: 'piece', shareId }} highlight={highlight} onHighlight={setHighlight} />
            </div>
            <div className="shared-body" data-testid="shared-body">
              <PieceText body={doc.body} spans={doc.spans} />
            </div>
            <footer className="hint">
              {doc.spans.length > 0 && <p>Parts of this piece were suggested by a language model. </p>}
              <p>
                Written with <Link href="/">writeup</Link>.
              </p>
              {loaded && <FlagButton shareId={shareId} signedIn={user !== null} />}
            </footer>
          </article>
        )}
      </main>
    </div>
  )
}
