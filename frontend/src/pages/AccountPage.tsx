import { useEffect, useState } from 'react'
import { accounts, type Account } from '../api/accounts'
import { ApiError } from '../api/client'
import { FormError } from '../components/FormError'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { forgetLocal } from '../drafts/localCopy'
import { formText, useFormSubmit } from '../hooks/useFormSubmit'
import { useTitle } from '../hooks/useTitle'
import { signInPath } from '../routes'
import { startOver } from '../session/useSession'

/** The account: who, what it holds, sign out, delete it with everything in it. */
export function AccountPage() {
  const [account, setAccount] = useState<Account | null>(null)
  const [signedOut, setSignedOut] = useState(false)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [confirming, setConfirming] = useState(false)
  useTitle('Your account')

  useEffect(() => {
    accounts
      .account()
      .then(setAccount)
      .catch((e) => {
        if (e instanceof ApiError && e.code === 'not_signed_in') setSignedOut(true)
        else setLoadError('Your account cannot be loaded right now.')
      })
  }, [])

  const signOut = async () => {
    await accounts.signOut()
    forgetLocal()
    startOver('/')
  }

  const { submit: remove, busy, error } = useFormSubmit(async (form) => {
    await accounts.deleteAccount(formText(form, 'password'))
    // Everything is gone on the server; the copies here go too.
    forgetLocal({ everything: true })
    startOver('/')
  })

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow" data-testid="account-page">
        <h1>Your account</h1>
        {signedOut && (
          <p>
            You are not signed in. <Link href={signInPath('signin', '/account')}>Sign in</Link>
          </p>
        )}
        {loadError && <p role="alert">{loadError}</p>}
        {account && (
          <>
            <dl className="facts">
              <dt>Username</dt>
              <dd data-testid="account-username">{account.username}</dd>
              <dt>E-mail</dt>
              <dd>{account.email || '—'}</dd>
              <dt>Member since</dt>
              <dd>{new Date(account.date_joined).toLocaleDateString()}</dd>
              <dt>Drafts</dt>
              <dd>
                {account.drafts} ({account.published} published)
              </dd>
            </dl>
            <button type="button" data-testid="account-signout" onClick={signOut}>
              Sign out
            </button>

            <section className="danger-zone">
              <h2>Delete the account</h2>
              <p>
                This deletes your account, {account.drafts === 1 ? 'your draft' : `all ${account.drafts} drafts`}, your
                published pieces (their links stop working) and your votes. It cannot be undone. Download anything you
                want to keep first.
              </p>
              {!confirming ? (
                <button type="button" className="danger" data-testid="delete-account" onClick={() => setConfirming(true)}>
                  Delete my account…
                </button>
              ) : (
                <form className="stack" onSubmit={remove}>
                  <label>
                    Type your password to confirm
                    <input name="password" type="password" autoComplete="current-password" required data-testid="delete-password" autoFocus />
                  </label>
                  <FormError message={error} />
                  <div className="row">
                    <button type="submit" className="danger" data-testid="delete-confirm" disabled={busy}>
                      Delete everything for good
                    </button>
                    <button type="button" onClick={() => setConfirming(false)}>
                      Keep my account
                    </button>
                  </div>
                </form>
              )}
            </section>
          </>
        )}
      </main>
    </div>
  )
}
