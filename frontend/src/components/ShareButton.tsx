import { useState } from 'react'
import { ApiError } from '../api/client'
import { documents } from '../api/documents'
import { useEscape } from '../hooks/useEscape'

interface Props {
  documentId: string | null
  published: boolean
  shareId: string | null
  beforePublish: () => Promise<void>
  onChange: (published: boolean, shareId: string | null) => void
}

const shareUrl = (shareId: string) => `${location.origin}/s/${shareId}`

/** Publish a read-only link to the draft, copy it, or take it down. */
export function ShareButton({ documentId, published, shareId, beforePublish, onChange }: Props) {
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  useEscape(() => setOpen(false))

  const publish = async () => {
    setBusy(true)
    setMessage(null)
    try {
      await beforePublish()
      if (!documentId) throw new ApiError(0, 'unsaved', 'Write something first; the draft is not saved yet.')
      const result = await documents.publish(documentId)
      onChange(true, result.share_id)
    } catch (e) {
      setMessage(e instanceof Error ? e.message : 'Could not publish.')
    } finally {
      setBusy(false)
    }
  }

  const unpublish = async () => {
    if (!documentId) return
    setBusy(true)
    try {
      await documents.unpublish(documentId)
      onChange(false, null)
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

  return (
    <div className="share">
      <button type="button" data-testid="share-button" aria-expanded={open} onClick={() => setOpen(!open)}>
        Share
      </button>
      {open && (
        <section className="popover share-panel" aria-label="Share" data-testid="share-panel">
          {published && shareId ? (
            <>
              <p>Anyone with this link can read the published draft:</p>
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
                <button type="button" onClick={publish} disabled={busy} title="Publish the current text">
                  Update
                </button>
                <button type="button" className="danger" onClick={unpublish} disabled={busy}>
                  Unpublish
                </button>
              </div>
            </>
          ) : (
            <>
              <p>Publish a read-only copy of this draft at a link you can share.</p>
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
