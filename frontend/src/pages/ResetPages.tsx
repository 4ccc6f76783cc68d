import { useState, type FormEvent } from 'react'
import { accounts } from '../api/accounts'
import { FormError, formProblem } from '../components/FormError'
import { Link } from '../components/Link'
import { PageHeader } from '../components/PageHeader'
import { useTitle } from '../hooks/useTitle'
import { startOver } from '../session/useSession'

/** Ask for a reset link by e-mail. */
export function ResetRequestPage() {
  const [sent, setSent] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useTitle('Reset your password')

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const r = await accounts.requestReset(String(new FormData(e.currentTarget).get('email') ?? ''))
      setSent(r.message)
    } catch (err) {
      setError(formProblem(err).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow">
        <h1>Reset your password</h1>
        {sent ? (
          <p role="status" data-testid="reset-sent">
            {sent}
          </p>
        ) : (
          <form className="stack" onSubmit={submit}>
            <label>
              Your account's e-mail
              <input name="email" type="email" autoComplete="email" required data-testid="reset-email" autoFocus />
            </label>
            <FormError message={error} />
            <button type="submit" className="primary" data-testid="reset-submit" disabled={busy}>
              Send me a link
            </button>
          </form>
        )}
        <p>
          <Link href="/signin">Back to sign in</Link>
        </p>
      </main>
    </div>
  )
}

/** The page the e-mailed link opens: choose a new password, then you are signed in. */
export function ResetConfirmPage({ uid, token }: { uid: string; token: string }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useTitle('Reset your password')

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const password = String(form.get('password') ?? '')
    if (password !== String(form.get('again') ?? '')) {
      setError('The two passwords differ; type the same one twice.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await accounts.confirmReset(uid, token, password)
      startOver('/')
    } catch (err) {
      setError(formProblem(err).message)
      setBusy(false)
    }
  }

  return (
    <div className="auth-page">
      <PageHeader />
      <main className="page narrow">
        <h1>Choose a new password</h1>
        <form className="stack" onSubmit={submit}>
          <label>
            New password
            <input name="password" type="password" autoComplete="new-password" required minLength={8} data-testid="reset-password" autoFocus />
          </label>
          <label>
            The same again
            <input name="again" type="password" autoComplete="new-password" required data-testid="reset-password-again" />
          </label>
          <FormError message={error} />
          <button type="submit" className="primary" data-testid="reset-confirm" disabled={busy}>
            Set password and sign in
          </button>
        </form>
        <p>
          Link expired? <Link href="/reset">Ask for a new one</Link>.
        </p>
      </main>
    </div>
  )
}
