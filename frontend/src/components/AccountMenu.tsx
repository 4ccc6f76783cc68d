import { useState } from 'react'
import { accounts } from '../api/accounts'
import { forgetLocal } from '../drafts/localCopy'
import { useEscape } from '../hooks/useEscape'
import { signInPath } from '../routes'
import { startOver, useSession } from '../session/useSession'
import { Link } from './Link'

interface Props {
  /** Save what is open before the session changes hands. */
  beforeLeave?: () => Promise<void>
}

/** "Sign in" for anonymous writers; the account's name, page and sign-out otherwise. */
export function AccountMenu({ beforeLeave }: Props) {
  const { loaded, user } = useSession()
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [message, setMessage] = useState<string | null>(null)
  useEscape(() => setOpen(false))

  if (!loaded) return <span className="account" aria-hidden="true" />
  if (!user) {
    return (
      <Link className="button-link" href={signInPath()} data-testid="signin-link">
        Sign in
      </Link>
    )
  }

  const signOut = async () => {
    setBusy(true)
    setMessage(null)
    try {
      await beforeLeave?.()
      await accounts.signOut()
      // The next person at this computer should not find this account's drafts.
      forgetLocal()
      startOver('/')
    } catch (e) {
      setMessage(e instanceof Error ? e.message : 'Could not sign out.')
      setBusy(false)
    }
  }

  return (
    <div className="account">
      <button type="button" data-testid="account-button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {user.username}
      </button>
      {open && (
        <section className="popover account-panel" aria-label="Account" data-testid="account-panel">
          <p>
            Signed in as <strong data-testid="signed-in-as">{user.username}</strong>
          </p>
          <div className="row">
            <Link href="/account" onClick={() => setOpen(false)}>
              Account
            </Link>
            <Link href="/gallery" onClick={() => setOpen(false)}>
              Gallery
            </Link>
            <button type="button" data-testid="signout-button" onClick={signOut} disabled={busy}>
              {busy ? 'Signing out…' : 'Sign out'}
            </button>
          </div>
          {message && <p role="alert">{message}</p>}
        </section>
      )}
    </div>
  )
}
