import { useState } from 'react'
import { gallery } from '../api/gallery'
import { signInPath } from '../routes'
import { Link } from './Link'

/** Report a piece to the moderators (signed-in readers). */
export function FlagButton({ shareId, signedIn }: { shareId: string; signedIn: boolean }) {
  const [open, setOpen] = useState(false)
  const [done, setDone] = useState(false)
  const [message, setMessage] = useState<string | null>(null)

  if (done) return <p className="hint" role="status">Thank you; the moderators will have a look.</p>
  if (!open) {
    return (
      <button type="button" className="link-button" data-testid="flag-button" onClick={() => setOpen(true)}>
        Report this piece
      </button>
    )
  }
  if (!signedIn) {
    return (
      <p className="hint">
        <Link href={signInPath()}>Sign in</Link> to report a piece.
      </p>
    )
  }
  return (
    <form
      className="flag-form"
      onSubmit={async (e) => {
        e.preventDefault()
        const reason = String(new FormData(e.currentTarget).get('reason') ?? '')
        try {
          await gallery.flag(shareId, reason)
          setDone(true)
        } catch (err) {
          setMessage(err instanceof Error ? err.message : 'The report did not go through.')
        }
      }}
    >
      <label>
        What is wrong with it? (optional)
        <textarea name="reason" maxLength={500} rows={2} data-testid="flag-reason" />
      </label>
      <div className="row">
        <button type="submit" data-testid="flag-submit">
          Report
        </button>
        <button type="button" className="link-button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      {message && <p role="alert">{message}</p>}
    </form>
  )
}
