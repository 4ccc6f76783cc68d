import { useEffect, useState, type ReactNode } from 'react'
import { ApiError } from '../api/client'
import { documents, type Visibility } from '../api/documents'
import { useEscape } from '../hooks/useEscape'
import { signInPath } from '../routes'
import { Link } from './Link'

type Listed = Exclude<Visibility, 'private'>

interface Props {
  documentId: string | null
  shareId: string | null
  visibility: Visibility
  hidden: boolean
  /** Only writers with an account may publish to the gallery. */
  signedIn: boolean
  beforePublish: () => Promise<void>
  onChange: (shareId: string | null, visibility: Visibility) => void
}

const shareUrl = (shareId: string) => `${location.origin}/s/${shareId}`

/** Publish the draft as a read-only piece (link only, or also in the gallery), copy its link, or take it down. */
export function ShareButton({ documentId, shareId, visibility, hidden, signedIn, beforePublish, onChange }: Props) {
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  const [choice, setChoice] = useState<Listed>(visibility === 'public' ? 'public' : 'unlisted')
  useEscape(() => setOpen(false))
  useEffect(() => setChoice(visibility === 'public' ? 'public' : 'unlisted'), [visibility])
  const published = shareId !== null

  const publish = async () => {
    setBusy(true)
    setMessage(null)
    try {
      await beforePublish()
      if (!documentId) throw new ApiError(0, 'unsaved', 'Write something first; the draft is not saved yet.')
      const result = await documents.publish(documentId, choice)
      onChange(result.share_id, result.visibility)
      setMessage(result.visibility === 'public' ? 'Published to the gallery.' : null)
    } catch (e) {
      setMessage(e instanceof Error ? e.message : 'Could not publish.')
    } finally {
      setBusy(false)
    }
  }

  const unpublish = async () => {
    if (!documentId) return
    setBusy(true)
    setMessage(null)
    try {
      await documents.unpublish(documentId)
      onChange(null, 'private')
    } catch (e) {
      setMessage(e instanceof Error ? e.message : 'Could not unpublish.')
    } finally {
      setBusy(false)
    }
  }

  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url)
      setMessage('Link copied.')
    } catch {
      setMessage('Select the link and copy it.')
    }
  }

  const visibilityChoice = (
    <fieldset className="visibility" disabled={busy}>
      <legend>Who can read it</legend>
      <VisibilityOption value="unlisted" choice={choice} onPick={setChoice}>
        Anyone with the link
      </VisibilityOption>
      <VisibilityOption value="public" choice={choice} onPick={setChoice} disabled={!signedIn}>
        Everyone: also in the <Link href="/gallery">gallery</Link>
      </VisibilityOption>
      {!signedIn && (
        <p className="hint">
          <Link href={signInPath()}>Sign in</Link> to publish to the gallery.
        </p>
      )}
    </fieldset>
  )

  return (
    <div className="share">
      <button type="button" data-testid="share-button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {published ? (visibility === 'public' ? 'Shared: gallery' : 'Shared: link') : 'Share'}
      </button>
      {open && (
        <section className="popover share-panel" aria-label="Share" data-testid="share-panel">
          {published && shareId ? (
            <>
              {hidden && (
                <p role="alert" data-testid="hidden-notice">
                  Moderators have hidden this piece: it is out of the gallery and its link does not work.
                </p>
              )}
              <p>
                {visibility === 'public'
                  ? 'In the gallery, and anyone with this link can read it:'
                  : 'Anyone with this link can read the published draft:'}
              </p>
              <input
                readOnly
                value={shareUrl(shareId)}
                aria-label="Share link"
                data-testid="share-link"
                onFocus={(e) => e.target.select()}
              />
              <div className="row">
                <button type="button" onClick={() => copy(shareUrl(shareId))}>
                  Copy link
                </button>
                <a href={`/s/${shareId}`} target="_blank" rel="noreferrer">
                  Open
                </a>
              </div>
              {visibilityChoice}
              <div className="row">
                <button
                  type="button"
                  data-testid="update-button"
                  onClick={publish}
                  disabled={busy}
                  title="Publish the current text"
                >
                  Update
                </button>
                <button type="button" className="danger" data-testid="unpublish-button" onClick={unpublish} disabled={busy}>
                  Unpublish
                </button>
              </div>
            </>
          ) : (
            <>
              <p>Publish a read-only copy of this draft.</p>
              {visibilityChoice}
              <button type="button" data-testid="publish-button" onClick={publish} disabled={busy}>
                {busy ? 'Publishing…' : 'Publish'}
              </button>
            </>
          )}
          {message && <p role="status">{message}</p>}
        </section>
      )}
    </div>
  )
}

function VisibilityOption(props: {
  value: Listed
  choice: Listed
  onPick: (value: Listed) => void
  disabled?: boolean
  children: ReactNode
}) {
  return (
    <label>
      <input
        type="radio"
        name="visibility"
        data-testid={`visibility-${props.value}`}
        checked={props.choice === props.value}
        disabled={props.disabled}
        onChange={() => props.onPick(props.value)}
      />{' '}
      {props.children}
    </label>
  )
}
