import { useState } from 'react'
import { api } from '../api/client'
import { documents, type ExportFormat } from '../api/documents'
import { useEscape } from '../hooks/useEscape'

export type ExportSource =
  | { kind: 'draft'; id: string | null; beforeExport: () => Promise<void> }
  | { kind: 'piece'; shareId: string }

interface Props {
  source: ExportSource
  /** Whether the model's words are highlighted on the page. */
  highlight: boolean
  onHighlight: (on: boolean) => void
}

/** Download as Markdown or text, copy to the clipboard, show what the model wrote. */
export function ExportMenu({ source, highlight, onHighlight }: Props) {
  const [open, setOpen] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  useEscape(() => setOpen(false))

  /** The file's address, once the server has the latest text. */
  const url = async (format: ExportFormat, marked = false): Promise<string | null> => {
    if (source.kind === 'piece') return documents.sharedExportUrl(source.shareId, format, marked)
    await source.beforeExport()
    if (!source.id) {
      setMessage('Write something first; there is nothing saved to export yet.')
      return null
    }
    return documents.exportUrl(source.id, format, marked)
  }

  const download = async (format: ExportFormat, marked = false) => {
    setMessage(null)
    try {
      const href = await url(format, marked)
      if (!href) return
      // The server names the file (Content-Disposition); the link only starts it.
      const a = document.createElement('a')
      a.href = href
      a.download = ''
      document.body.appendChild(a)
      a.click()
      a.remove()
    } catch (e) {
      setMessage(e instanceof Error ? e.message : 'Could not export.')
    }
  }

  const copy = async (format: ExportFormat) => {
    setMessage(null)
    try {
      const href = await url(format)
      if (!href) return
      const text = await api.text(href)
      await navigator.clipboard.writeText(text)
      setMessage(format === 'md' ? 'Markdown copied.' : 'Text copied.')
    } catch (e) {
      setMessage(
        e instanceof DOMException || e instanceof TypeError
          ? 'This browser did not allow copying; download the file instead.'
          : e instanceof Error
            ? e.message
            : 'Could not copy.',
      )
    }
  }

  return (
    <div className="export">
      <button type="button" data-testid="export-button" aria-expanded={open} onClick={() => setOpen(!open)}>
        Export
      </button>
      {open && (
        <section className="popover export-panel" aria-label="Export" data-testid="export-panel">
          <div className="menu">
            <button type="button" data-testid="export-md" onClick={() => download('md')}>
              Download Markdown
            </button>
            <button type="button" data-testid="export-md-marked" onClick={() => download('md', true)}>
              Markdown, model's words marked
            </button>
            <button type="button" data-testid="export-txt" onClick={() => download('txt')}>
              Download plain text
            </button>
            <button type="button" data-testid="copy-text" onClick={() => copy('txt')}>
              Copy text
            </button>
            <button type="button" data-testid="copy-md" onClick={() => copy('md')}>
              Copy Markdown
            </button>
          </div>
          <label className="check">
            <input
              type="checkbox"
              data-testid="highlight-toggle"
              checked={highlight}
              onChange={(e) => onHighlight(e.target.checked)}
            />
            <span>Highlight the words the model wrote</span>
          </label>
          {message && <p role="status">{message}</p>}
        </section>
      )}
    </div>
  )
}
