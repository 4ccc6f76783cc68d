import { useEffect, useState } from 'react'
import { documents, type DocumentRecord } from '../api/documents'
import { removeLocal } from '../drafts/localCopy'
import { useEscape } from '../hooks/useEscape'
import { navigate } from '../routes'
import { PopoverHead } from './PopoverHead'

interface Props {
  currentId: string | null
  /** The open draft's title as typed, newer than the list's copy. */
  currentTitle: string
  /** Renaming the open draft goes through the editor so autosave stays in charge. */
  onRenameCurrent: (title: string) => void
  onClose: () => void
}

/** The writer's drafts: open, start new, rename, delete. */
export function DraftList({ currentId, currentTitle, onRenameCurrent, onClose }: Props) {
  const [drafts, setDrafts] = useState<DocumentRecord[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [confirming, setConfirming] = useState<string | null>(null)
  const [renaming, setRenaming] = useState<string | null>(null)
  useEscape(onClose)

  const load = () =>
    documents
      .list()
      .then((list) => {
        setDrafts([...list].sort((a, b) => b.updated_at.localeCompare(a.updated_at)))
        setError(null)
      })
      .catch(() => setError('Could not load your drafts. Are you offline?'))

  useEffect(() => {
    void load()
  }, [])

  const open = (path: string) => {
    navigate(path)
    onClose()
  }

  const remove = async (id: string) => {
    try {
      await documents.remove(id)
      removeLocal(id)
      setConfirming(null)
      if (id === currentId) open('/')
      else void load()
    } catch {
      setError('Could not delete the draft.')
    }
  }

  const rename = async (doc: DocumentRecord, title: string) => {
    setRenaming(null)
    if (title === doc.title) return
    if (doc.id === currentId) {
      onRenameCurrent(title)
      return
    }
    try {
      await documents.update(doc.id, { title, version: doc.version })
    } catch {
      setError('Could not rename the draft; it may have changed elsewhere. Open it and rename it there.')
    }
    void load()
  }

  return (
    <nav className="drawer" aria-label="Drafts" data-testid="draft-list">
      <PopoverHead title="Drafts" closeLabel="Close drafts" onClose={onClose} />
      <button type="button" className="primary" data-testid="new-draft" autoFocus onClick={() => open('/')}>
        New draft
      </button>
      {error && <p role="alert">{error}</p>}
      {drafts === null && !error && <p className="hint">Loading…</p>}
      {drafts?.length === 0 && <p className="hint">No drafts yet. Start writing and one is saved for you.</p>}
      <ul>
        {drafts?.map((d) => (
          <li key={d.id} className={d.id === currentId ? 'current' : undefined} data-testid="draft-item">
            {renaming === d.id ? (
              <form
                onSubmit={(e) => {
                  e.preventDefault()
                  void rename(d, String(new FormData(e.currentTarget).get('title') ?? ''))
                }}
              >
                <input name="title" defaultValue={d.id === currentId ? currentTitle : d.title} aria-label="New title" autoFocus onBlur={() => setRenaming(null)} />
              </form>
            ) : (
              <a
                href={`/d/${d.id}`}
                aria-current={d.id === currentId ? 'page' : undefined}
                onClick={(e) => {
                  e.preventDefault()
                  open(`/d/${d.id}`)
                }}
              >
                <span className="draft-title">{(d.id === currentId ? currentTitle : d.title) || 'Untitled'}</span>
                <span className="draft-meta">
                  {new Date(d.updated_at).toLocaleString()}
                  {d.published ? ' · published' : ''}
                </span>
              </a>
            )}
            <div className="row">
              <button type="button" className="link-button" onClick={() => setRenaming(d.id)}>
                Rename
              </button>
              {confirming === d.id ? (
                <>
                  <button type="button" className="link-button danger" onClick={() => remove(d.id)}>
                    Delete for good
                  </button>
                  <button type="button" className="link-button" onClick={() => setConfirming(null)}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" className="link-button" onClick={() => setConfirming(d.id)}>
                  Delete
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
    </nav>
  )
}
